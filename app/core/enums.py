"""Labelled enums: a lifecycle state or a kind whose members carry their label (a Chinese message id translated
through the module's catalogue) and a tone for the ``state_badge`` macro.

    class Stance(LabelledEnum):
        SUPPORT = "support", _l("支持"), "ok"
        OPPOSE = "oppose", _l("反对")

``Stance("support")`` finds a member by its value as with any enum; ``member.label`` is the label in the current
language; ``Stance.choices()`` gives (value, label) pairs for a form.
"""
from __future__ import annotations

import enum
from typing import Any

from flask_babel import lazy_gettext as _l

TONES = ("ok", "warn", "error", "muted", "info")


class LabelledEnum(enum.Enum):
    """An enum whose members are declared as ``NAME = value, label[, tone]``."""

    def __new__(cls, value: str, label: Any = None, tone: str = ""):
        member = object.__new__(cls)
        member._value_ = value
        member._label = label if label is not None else value
        member.tone = tone
        return member

    @property
    def label(self) -> str:
        """The label in the current language."""
        return str(self._label)

    @property
    def lazy_label(self) -> Any:
        """The label as a lazy string, translated when shown (for form labels built at import time)."""
        return self._label

    @property
    def msgid(self) -> str:
        """The label as written in the code (Chinese), whatever the current language."""
        return getattr(self._label, "_args", [str(self._label)])[0]

    @classmethod
    def choices(cls, members: list | None = None) -> list[tuple[str, str]]:
        """(value, label) pairs for a form's choices, in declaration order (or of ``members`` only)."""
        return [(m.value, m.label) for m in (members if members is not None else list(cls))]

    @classmethod
    def labels(cls) -> dict:
        """Every member with its label in the current language."""
        return {m: m.label for m in cls}


class DispositionKind(LabelledEnum):
    """What became of a comment or an observer's suggestion (意见采纳情况): shared by consultations and hearings."""

    ADOPTED = "adopted", _l("采纳"), "ok"
    PARTLY_ADOPTED = "partly_adopted", _l("部分采纳"), "ok"
    NOT_ADOPTED = "not_adopted", _l("未采纳"), "muted"
    NOT_APPLICABLE = "not_applicable", _l("不适用"), "muted"
