"""How the portal writes dates and times for people (Django's format localisation for English).

One style everywhere: "6 Dec 2026, 17:05 EST" with the viewer's time zone (see revops/timezones.py),
instead of Django's "Dec. 6, 2026, 5:05 p.m." without a zone.
"""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i T"
TIME_FORMAT = "H:i"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
MONTH_DAY_FORMAT = "j F"
YEAR_MONTH_FORMAT = "F Y"
