"""Notifications: the mail outbox, in-app notices, subscriptions and the jobs that send them."""
from flask import Blueprint

bp = Blueprint("notifications", __name__)

from app.notifications import commands, failed_mail, subscribe, views  # noqa: E402,F401  (commands and routes)
