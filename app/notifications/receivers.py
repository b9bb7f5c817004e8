"""Receivers of other modules' signals that lead to notifications."""
