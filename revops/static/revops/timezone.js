// Tell the portal the browser's time zone (revops/timezones.py): the next page shows local times.
(function () {
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  if (!zone) return;
  var match = document.cookie.match(/(?:^|; )portal_tz=([^;]*)/);
  if (match && decodeURIComponent(match[1]) === zone) return;
  if (!/^[A-Za-z0-9_\/+-]+$/.test(zone)) return; // IANA names only: safe in a cookie as they are
  document.cookie = "portal_tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax";
})();
