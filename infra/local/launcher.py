#!/usr/bin/env python3
"""The local AWS stack in one process: moto server, our moto extensions, API gateway.

Started by infra/local/up with the stack's virtualenv python:

    launcher.py --port M --gateway-port G --state-dir DIR

Everything runs in this process because the extensions patch moto's in-memory backends:
the API gateway reads moto's REST APIs and invokes functions through the same Lambda host
that moto's Invoke API uses.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import sys
from pathlib import Path


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="moto server port")
    parser.add_argument("--gateway-port", type=int, required=True, help="API gateway port")
    parser.add_argument("--state-dir", type=Path, required=True)
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    state_dir = args.state_dir.resolve()

    # moto's Step Functions interpreter calls Lambda (and every other service) through
    # boto3 at http://localhost:$MOTO_PORT; that has to be this server.
    os.environ["MOTO_PORT"] = str(args.port)

    # Our own session and process group, so infra/local/down can stop the launcher
    # without knowing how it was started. (Function processes get groups of their own;
    # they are stopped on exit below, or by down from $STATE/run/lambda.)
    try:
        os.setsid()
    except OSError:
        pass  # already a group leader

    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stdout,
    )

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from moto import server
    from moto.core.config import default_user_config

    import moto_ext
    from moto_ext import api_gateway, lambda_runtime

    # Step Functions executes state machines for real (moto's ASL interpreter) instead
    # of only recording executions.
    default_user_config["stepfunctions"] = {"execute_state_machine": True}

    moto_ext.install(state_dir, args.port)
    atexit.register(lambda_runtime.shutdown)  # moto turns SIGTERM/SIGINT into sys.exit
    api_gateway.start(args.gateway_port)

    run_dir = state_dir / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "launcher.pid").write_text(f"{os.getpid()}\n")
    logging.getLogger("byoc.launcher").info(
        "moto on 127.0.0.1:%s, API gateway on 127.0.0.1:%s, state in %s",
        args.port,
        args.gateway_port,
        state_dir,
    )
    server.main(["-H", "127.0.0.1", "-p", str(args.port)])


if __name__ == "__main__":
    main(sys.argv[1:])
