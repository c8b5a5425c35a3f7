"""The dashboard's metrics: a registry the layers above fill, daily roll-ups, and their reads.

- ``registry``: ``register_metric`` (also offered as ``revops.plugins.register_metric``); each
  layer registers the metrics of the data it owns in its ``AppConfig.ready()``;
- ``days``: local days and their bounds, percentiles, the team of a record;
- ``rollup``: the scheduled job's work — recompute the dirty days of every metric into
  ``MetricDaily`` rows;
- ``selectors``: the numbers for a date range and a set of teams, read from the roll-ups only;
- ``query``: the filters (range, team, metrics) read from query parameters, and the answer the
  API and the CSV exports share;
- ``views``: the dashboard page and its CSV export;
- ``demo``: the demo's last step, a full roll-up.
"""
