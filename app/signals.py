"""Every signal the modules send, declared in one place.

A module sends its own signals from its services; another module reacts by connecting a receiver in its own
``receivers.py``. Senders pass the object as the sender and keyword arguments as documented here.
"""
from blinker import Namespace

_signals = Namespace()

# accounts
user_registered = _signals.signal("user-registered")  # sender=user
user_deleted = _signals.signal("user-deleted")  # sender=user_id (int); the row is anonymised, not removed
# sender=user; each receiver returns a dict {section name: JSON-serialisable data} for "download my data"
collect_user_data = _signals.signal("collect-user-data")

# consultations
consultation_published = _signals.signal("consultation-published")  # sender=consultation, actor=
comment_submitted = _signals.signal("comment-submitted")  # sender=comment
comment_moderated = _signals.signal("comment-moderated")  # sender=comment, actor=
feedback_report_published = _signals.signal("feedback-report-published")  # sender=report, actor=
consultation_closing_soon = _signals.signal("consultation-closing-soon")  # sender=consultation; 3 days before closing

# hearings
meeting_announced = _signals.signal("meeting-announced")  # sender=meeting, actor=
application_changed = _signals.signal("application-changed")  # sender=application
hearing_record_published = _signals.signal("hearing-record-published")  # sender=meeting, actor=

# openday
activity_published = _signals.signal("activity-published")  # sender=activity, actor=
registration_changed = _signals.signal("registration-changed")  # sender=registration; by_person=True: their own sign-up
activity_cancelled = _signals.signal("activity-cancelled")  # sender=activity, actor=

# messages
message_received = _signals.signal("message-received")  # sender=message (on the platform or forwarded)
message_changed = _signals.signal("message-changed")  # sender=message, what= (assigned, returned, replied, ...)
message_replied = _signals.signal("message-replied")  # sender=message, reply=; the reply was released to the writer
# sender=message, what= (ack_overdue, due_soon, overdue), user_ids= (the staff told by e-mail); from messages' jobs
message_deadline = _signals.signal("message-deadline")
problem_confirmed = _signals.signal("problem-confirmed")  # sender=problem, actor=; a common problem and its action
