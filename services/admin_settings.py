"""The admin's `PUT /api/settings` as one change: the owner's settings (services/settings.py) and `ai`, the AI
captions' settings (services/ai/settings.py, the one service PUT /api/ai/settings uses too). Every part is checked
before any is written, so a refused change writes nothing. No Flask here."""

from __future__ import annotations

from collections.abc import Mapping

from errors import ValidationFailed
from services import settings
from services.ai import settings as ai_settings

AI = "ai"


def change(changes: Mapping[str, object], secret: str) -> None:
    """Apply an admin's change; ValidationFailed names the field (`ai.url` for one inside `ai`).

    `ai` is a partial object of the AI settings (apiKey sealed under `secret`); the other names are
    services.settings.CHANGEABLE."""
    rest = {name: value for name, value in changes.items() if name != AI}
    ai = _checked_ai(changes[AI], secret) if AI in changes else None
    if rest or ai is None:
        settings.change_settings(rest, also_named=(AI,))
    if ai is not None:
        ai_settings.store(ai)


def _checked_ai(value: object, secret: str) -> ai_settings.AiSettings:
    if not isinstance(value, Mapping) or not value:
        raise ValidationFailed(AI, f"ai must be an object with at least one of {', '.join(ai_settings.NAMES)}.")
    try:
        return ai_settings.checked(value, secret)
    except ValidationFailed as error:
        raise ValidationFailed(f"{AI}.{error.extra['field']}", error.message) from None
