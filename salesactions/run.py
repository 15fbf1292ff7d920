"""``make run``: the whole app on one machine — web, Celery worker, beat and the sandboxes.

Marketo and Salesforce point at the local sandboxes unless real connection settings are given
(environment or ``.env``). Ctrl-C stops every process (honcho forwards the signal).
"""

import os
import sys

from honcho.manager import Manager

SANDBOX_MARKETO_PORT = 8010
SANDBOX_SALESFORCE_PORT = 8020
MAIL_CAPTURE_SMTP_PORT = 1025
MAIL_CAPTURE_HTTP_PORT = 8025
# The demo mailbox (when Dovecot is installed): IMAP and an SMTP submission server for Ava.
DEMO_IMAP_PORT = 1143
DEMO_SUBMISSION_PORT = 1587
DEMO_SUBMISSION_HTTP_PORT = 8026
DEMO_MAILBOX = ("ava.stone@example.com", "ava-mail-pass")
SANDBOX_ENV = {
    "MARKETO_BASE_URL": f"http://127.0.0.1:{SANDBOX_MARKETO_PORT}",
    "MARKETO_CLIENT_ID": "sandbox-marketo-client",
    "MARKETO_CLIENT_SECRET": "sandbox-marketo-secret",
    "SALESFORCE_URL": f"http://127.0.0.1:{SANDBOX_SALESFORCE_PORT}",
    "SALESFORCE_CLIENT_ID": "sandbox-salesforce-client",
    "SALESFORCE_CLIENT_SECRET": "sandbox-salesforce-secret",
}


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesactions.settings")
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    env = dict(os.environ)
    use_marketo_sandbox = not settings.MARKETO_BASE_URL
    use_salesforce_sandbox = not settings.SALESFORCE_URL
    for key, value in SANDBOX_ENV.items():
        if (key.startswith("MARKETO") and use_marketo_sandbox) or (
                key.startswith("SALESFORCE") and use_salesforce_sandbox):
            env[key] = value
            os.environ[key] = value

    # Sales email goes to the local capture unless EMAIL_URL (or an ESP) says otherwise.
    use_mail_capture = not os.environ.get("EMAIL_URL") and not settings.ANYMAIL_ESP
    if use_mail_capture:
        env["EMAIL_URL"] = f"smtp://127.0.0.1:{MAIL_CAPTURE_SMTP_PORT}"
    port = env.get("PORT", "8000")
    env.setdefault("SITE_URL", f"http://127.0.0.1:{port}")

    call_command("migrate", interactive=False, verbosity=0)
    call_command("demo_users")

    python = sys.executable
    manager = Manager()
    if use_marketo_sandbox or use_salesforce_sandbox:
        manager.add_process("sandbox", f"{python} -m sandbox --marketo-port {SANDBOX_MARKETO_PORT}"
                                       f" --salesforce-port {SANDBOX_SALESFORCE_PORT}", env=env)
    if use_mail_capture:
        manager.add_process("mail", f"{python} -m sandbox.mailcapture --smtp-port "
                                    f"{MAIL_CAPTURE_SMTP_PORT} --http-port "
                                    f"{MAIL_CAPTURE_HTTP_PORT}", env=env)
    demo_mailbox = _dovecot_installed()
    if demo_mailbox:
        address, password = DEMO_MAILBOX
        manager.add_process("imap", f"{python} -m sandbox.dovecot --port {DEMO_IMAP_PORT} "
                                    f"--folder {settings.VAR_DIR / 'dovecot'} "
                                    f"--user {address}:{password}", env=env)
        manager.add_process("submission", f"{python} -m sandbox.mailcapture --smtp-port "
                                          f"{DEMO_SUBMISSION_PORT} --http-port "
                                          f"{DEMO_SUBMISSION_HTTP_PORT} "
                                          f"--account {address}:{password}", env=env)
    manager.add_process("web", f"{python} manage.py runserver 127.0.0.1:{port}", env=env)
    manager.add_process("worker", f"{python} -m celery -A salesactions worker --loglevel WARNING"
                                  " --concurrency 2", env=env)
    manager.add_process("beat", f"{python} -m celery -A salesactions beat --loglevel WARNING"
                                f" --schedule {settings.VAR_DIR / 'celerybeat-schedule'}", env=env)
    print(f"\n  Sales Actions: http://127.0.0.1:{port}/")
    if use_marketo_sandbox:
        print(f"  Marketo sandbox:    {SANDBOX_ENV['MARKETO_BASE_URL']}")
    if use_salesforce_sandbox:
        print(f"  Salesforce sandbox: {SANDBOX_ENV['SALESFORCE_URL']}")
    if use_mail_capture:
        print(f"  Mail capture (sent sales email): http://127.0.0.1:{MAIL_CAPTURE_HTTP_PORT}/")
    if demo_mailbox:
        print(f"  Demo mailbox for ava (You → Your mailbox): login {DEMO_MAILBOX[0]}, password "
              f"{DEMO_MAILBOX[1]}, IMAP 127.0.0.1:{DEMO_IMAP_PORT} and SMTP "
              f"127.0.0.1:{DEMO_SUBMISSION_PORT}, security none; what it sends: "
              f"http://127.0.0.1:{DEMO_SUBMISSION_HTTP_PORT}/")
    print("  Ctrl-C stops everything.\n")
    manager.loop()
    return manager.returncode or 0


def _dovecot_installed() -> bool:
    from sandbox.dovecot import DovecotMissing, dovecot_binary

    try:
        return bool(dovecot_binary())
    except DovecotMissing:
        return False


if __name__ == "__main__":
    sys.exit(main())
