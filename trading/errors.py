"""One error family: a domain error carries a rule code and a readable message."""


class DomainError(Exception):
    status = 400
    # The same refusal worded in the language of the record (trading.i18n), when it was: what its alert says.
    record_message: str | None = None

    def __init__(self, code: str, message: str, *, fields: dict | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.fields = fields or {}


class RuleViolation(DomainError):
    """A procurement rule of RULES.md refused the act."""

    status = 422


class TransitionError(DomainError):
    status = 409


class NotAllowed(DomainError):
    status = 403
