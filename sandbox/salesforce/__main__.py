"""``python -m sandbox.salesforce --port 8020 [--tls-port 8443] --leads 2000 --seed 1``"""

from __future__ import annotations

import argparse
import os

from sandbox.salesforce.app import SalesforceSandbox
from sandbox.salesforce.tls import serve_tls_in_thread
from sandbox.server import serve_forever


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.salesforce",
                                     description="Run the Salesforce REST API sandbox.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8020, help="plain HTTP port")
    parser.add_argument("--tls-port", type=int, default=None,
                        help="also serve HTTPS here (self-signed certificate, for clients such "
                             "as simple-salesforce that only speak https)")
    parser.add_argument("--leads", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reminder-tasks", type=int, default=0,
                        help="reminder Tasks created over the last day")
    parser.add_argument("--client-id", default=os.environ.get(
        "SALESFORCE_SANDBOX_CLIENT_ID", "sandbox-salesforce-client"))
    parser.add_argument("--client-secret", default=os.environ.get(
        "SALESFORCE_SANDBOX_CLIENT_SECRET", "sandbox-salesforce-secret"))
    args = parser.parse_args(argv)

    app = SalesforceSandbox(leads=args.leads, seed=args.seed, client_id=args.client_id,
                            client_secret=args.client_secret, reminder_tasks=args.reminder_tasks)
    print(f"Salesforce sandbox on http://{args.host}:{args.port} "
          f"({args.leads} seed leads, seed {args.seed})", flush=True)
    if args.tls_port is not None:
        tls = serve_tls_in_thread(app, args.host, args.tls_port)
        print(f"  and on {tls.url} (certificate: {tls.cert_path})", flush=True)
    serve_forever(app, args.host, args.port)


if __name__ == "__main__":
    main()
