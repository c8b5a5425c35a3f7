"""Admin for routing and response SLAs: rules, pools, decisions, SLA policies, calendars and clocks.

Importing this package registers the model admins (``rules``, ``pools``, ``decisions``, ``sla``);
``helpers`` holds the plain-language helpers and the decision panels, ``base`` the shared forms.

Writes go through services: routing rules through ``routing.services`` (``routing_rule_save``,
``routing_rule_move``, and ``lead_reroute`` from a decision's page); pools, business calendars
(with their teams) and SLA policies through ``routing.setup_services`` (``pool_save``,
``business_calendar_save``/``_delete``, ``sla_policy_save``/``_delete``), inside
``audited(actor=…, reason=…)``. A pool's members are saved by their inline formset, inside
``audited`` too, validated by ``pool_member_problems`` as config-as-code's are. Decisions and SLA
clocks are read-only: they are the record of what routing did.

Pages besides the model admins (all under ``/admin/routing/``):

- ``routingrule/preview/`` — "Who would get this lead?": decide for a typed-in lead, write nothing;
- ``routingrule/backtest/`` — replay the last N days of leads through the rules;
- ``routingrule/<id>/move/<up|down>/`` — POST, from the ▲/▼ buttons of the rule list;
- ``routingdecision/<id>/reroute/`` — POST, route the decision's lead again;
- ``slaclock/report/`` — SLA met rate and time to first touch per team, rule and rep.

The explanation of a decision (``RoutingDecision.explanation`` or a preview's ``Plan``) is shaped
for ``admin/routing/includes/decision_panel.html`` by ``helpers.decision_panel``/``plan_panel``;
the lead's why view shows the same panel (``lead_routing_panel``, re-exported here for it).
"""

from . import decisions, pools, rules, sla  # noqa: F401  (registers the model admins)
from .helpers import lead_routing_panel

__all__ = ["lead_routing_panel"]
