"""Accounts: registration, sign-in, profile, my data, departments and staff."""
from flask import Blueprint

bp = Blueprint("accounts", __name__)

from app.accounts import devices, manage, settings, views  # noqa: E402,F401
