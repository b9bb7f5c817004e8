"""User-facing labels of oversight's own records: the target groups of invitations."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

TARGET_GROUP_LABELS = {
    "enterprises": _l("企业"),
    "associations": _l("行业协会和商会"),
    "grassroots": _l("基层群众"),
    "named": _l("指定群体"),
}
