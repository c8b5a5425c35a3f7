"""RQ entry points of the engine: thin, they call the engine's services.

Declared as periodic jobs in ``revops.engine.setup``.
"""

from .health_email import weekly_revops_email_send
from .health_review import automation_health_review
from .held import held_events_process
from .pause import held_events_sweep
from .revert_batches import revert_batch_process, revert_batches_sweep
from .schedule import automation_review_overdue_open
from .schedule import run_scheduled_automations as scheduled_automations_run


def run_scheduled_automations() -> dict:
    """Evaluate the scheduled automations whose period has a slot not yet done."""
    return scheduled_automations_run()


def check_automation_failures() -> dict:
    """Open items for the ways automation fails silently (``revops.engine.failure_monitor``)."""
    from .failure_monitor import automation_failures_check

    return automation_failures_check()


def open_review_overdue() -> int:
    """Open a review_overdue exception item for automations past their review date."""
    return automation_review_overdue_open()


def process_held_events(automation_id: int) -> dict:
    """Run the events held while ``automation_id`` was paused that RevOps chose to process on resume."""
    return held_events_process(automation_id=automation_id)


def sweep_held_events() -> list:
    """Enqueue again the held events RevOps chose to process whose job died before finishing them."""
    return held_events_sweep()


def revert_run_batch(batch_id: int) -> int:
    """Revert the runs of revert batch ``batch_id`` not reverted yet (resumes after a killed worker); how many are done."""
    return revert_batch_process(batch_id=batch_id).done


def sweep_revert_batches() -> list:
    """Enqueue again the revert batches whose job went silent (its worker died); their ids."""
    return revert_batches_sweep()


def review_automation_health() -> str:
    """The monthly health review: open, refresh or close the retire / review suggestions."""
    return automation_health_review().text()


def send_weekly_revops_email() -> dict:
    """The weekly e-mail to RevOps admins (headline numbers and open health suggestions)."""
    return weekly_revops_email_send()
