"""HTTP connections gain `hosts` ("Sent only to"): the sites their credentials may go to.

An existing connection with a test URL is given that URL's site (its admin
chose it); one without stays without, and is sent nowhere until an admin
adds its hosts (docs/integrations.md, "Where credentials go").
"""

from django.db import migrations


def hosts_from_test_url(apps, schema_editor):
    import httpx

    Connection = apps.get_model("integrations", "Connection")
    for connection in Connection.objects.filter(provider="http"):
        options = dict(connection.settings or {})
        test_url = options.get("test_url")
        if options.get("hosts") or not test_url:
            continue
        try:
            url = httpx.URL(str(test_url).strip())
        except Exception:
            continue
        if url.scheme not in ("http", "https") or not url.host:
            continue
        port = f":{url.port}" if url.port else ""
        options["hosts"] = [f"{url.scheme}://{url.host}{port}"]
        connection.settings = options
        connection.save(update_fields=["settings"])


class Migration(migrations.Migration):
    dependencies = [("integrations", "0002_email_suppression")]

    operations = [migrations.RunPython(hosts_from_test_url, migrations.RunPython.noop)]
