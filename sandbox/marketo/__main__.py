"""Run the Marketo sandbox alone.

``python -m sandbox.marketo --port 8010 --leads 2000 --seed 1``; credentials default to
``sandbox-marketo-client`` / ``sandbox-marketo-secret`` (flags or ``MARKETO_CLIENT_ID`` /
``MARKETO_CLIENT_SECRET`` change them).
"""

import argparse
import os

from sandbox.server import serve_forever

from .app import CONFIG_DEFAULTS, MarketoSandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--leads", type=int, default=2000, help="seed leads (default 2000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--client-id",
                        default=os.environ.get("MARKETO_CLIENT_ID", CONFIG_DEFAULTS["client_id"]))
    parser.add_argument("--client-secret", default=os.environ.get(
        "MARKETO_CLIENT_SECRET", CONFIG_DEFAULTS["client_secret"]))
    args = parser.parse_args()
    app = MarketoSandbox(leads=args.leads, seed=args.seed, client_id=args.client_id,
                         client_secret=args.client_secret)
    print(f"Marketo sandbox on http://{args.host}:{args.port} ({args.leads} seed leads)",
          flush=True)
    try:
        serve_forever(app, args.host, args.port)
    finally:
        app.close()


if __name__ == "__main__":
    main()
