"""Run both sandboxes in one process.

``python -m sandbox --marketo-port 8010 --salesforce-port 8020 --leads 2000 --reminder-tasks 40``
"""

import argparse
import signal
import threading

from .marketo import MarketoSandbox
from .salesforce import SalesforceSandbox
from .server import serve_in_thread

OPT_OUT_FIELD = "Sales_Opt_Out__c"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--marketo-port", type=int, default=8010)
    parser.add_argument("--salesforce-port", type=int, default=8020)
    parser.add_argument("--leads", type=int, default=2000, help="seed leads (default 2000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reminder-tasks", type=int, default=40,
                        help="Salesforce reminder Tasks created over the last day (default 40)")
    args = parser.parse_args()

    marketo = serve_in_thread(MarketoSandbox(leads=args.leads, seed=args.seed),
                              args.host, args.marketo_port)
    # A custom opt-out checkbox with some seeded opt-outs, for the unsubscribe sync's setting.
    salesforce = serve_in_thread(
        SalesforceSandbox(leads=args.leads, seed=args.seed, reminder_tasks=args.reminder_tasks,
                          custom_checkbox_percent=1,
                          custom_fields={"Contact": [OPT_OUT_FIELD], "Lead": [OPT_OUT_FIELD]}),
        args.host, args.salesforce_port)
    print(f"Marketo sandbox on {marketo.url}, Salesforce sandbox on {salesforce.url} "
          f"({args.leads} seed leads)", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    marketo.shutdown()
    salesforce.shutdown()


if __name__ == "__main__":
    main()
