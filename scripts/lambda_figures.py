"""Figures for the Lambda binaries (BENCHMARKS.md): stripped size, cold start
(process start -> first Runtime API request) and peak RSS after serving one
event end to end against moto.

    ./scripts/python-tools
    cargo build --release -p ecs-autopilot-lambdas --bins
    .venv/bin/python scripts/lambda_figures.py [--runs 20]

Each run starts the binary afresh under a local Runtime API (a thread here),
hands it one ECS task event for a configured service, waits for the
response, then reads VmHWM from /proc before stopping it.
"""

import argparse
import http.server
import json
import os
import pathlib
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import boto3

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = ROOT / "target" / "release"
CONFIG = """
ScalableTargets:
  - {ResourceId: service/prod/api, MinCapacity: 1, MaxCapacity: 10}
ScheduledActions:
  - ScheduledActionName: always-three
    ResourceId: service/prod/api
    Schedule: cron(* * * * ? *)
    ScalableTargetAction: {MinCapacity: 3, MaxCapacity: 10}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto():
    port = free_port()
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.time() > deadline:
                sys.exit("moto_server did not start")
            time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port}"


def seed(url):
    kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    ecs = boto3.client("ecs", **kw)
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(
        family="api", networkMode="bridge", containerDefinitions=[{"name": "app", "image": "nginx", "cpu": 256, "memory": 512}]
    )
    ecs.create_service(cluster="prod", serviceName="api", taskDefinition="api", desiredCount=2)
    boto3.client("dynamodb", **kw).create_table(
        TableName="state",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )
    return ecs


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    events: "queue.Queue" = queue.Queue()
    seen: "queue.Queue" = queue.Queue()

    def log_message(self, *args):
        pass

    def do_GET(self):
        RuntimeApi.seen.put(("GET", self.path, time.perf_counter(), ""))
        event = RuntimeApi.events.get()
        body = json.dumps(event).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Lambda-Runtime-Aws-Request-Id", f"req-{time.time_ns()}")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:f")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except BrokenPipeError:
            pass  # the measured process was stopped while waiting for an event

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode()
        RuntimeApi.seen.put(("POST", self.path, time.perf_counter(), body))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


def peak_rss_kib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    binary = BIN / "autopilot-controller"
    if not binary.exists():
        sys.exit(f"{binary} missing: cargo build --release -p ecs-autopilot-lambdas --bins")
    moto, url = start_moto()
    try:
        seed(url)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        api = f"127.0.0.1:{server.server_address[1]}"
        config = pathlib.Path(tempfile.mkdtemp()) / "autopilot.yaml"
        config.write_text(CONFIG)
        event = json.loads((ROOT / "tests/fixtures/events/ecs-task-state-change.json").read_text())
        event["detail"]["group"] = "service:api"
        event["detail"]["clusterArn"] = "arn:aws:ecs:us-east-1:123456789012:cluster/prod"
        env = {
            "AWS_LAMBDA_RUNTIME_API": api,
            "AWS_LAMBDA_FUNCTION_NAME": "autopilot-controller",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_STREAM_NAME": "s",
            "AWS_LAMBDA_LOG_GROUP_NAME": "g",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_ENDPOINT_URL": url,
            "AUTOPILOT_CONFIG_FILE": str(config),
            "AUTOPILOT_STATE_TABLE": "state",
            # As infra/template.yaml sets it: one CA bundle file, no scan of
            # a certificates directory (rustls-native-certs reads both otherwise).
            "SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt",
        }
        cold, rss = [], []
        for run in range(args.runs):
            event["id"] = f"figures-{run}"
            RuntimeApi.events.put(event)
            start = time.perf_counter()
            proc = subprocess.Popen([str(binary)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            method, path, at, _ = RuntimeApi.seen.get(timeout=30)
            assert path.endswith("/invocation/next"), path
            cold.append((at - start) * 1000)
            method, path, at, body = RuntimeApi.seen.get(timeout=30)
            assert path.endswith("/response"), (path, body)
            RuntimeApi.seen.get(timeout=30)  # waiting for the next event
            rss.append(peak_rss_kib(proc.pid) / 1024)
            proc.kill()
            proc.wait()
            RuntimeApi.events.put({})  # release the handler thread holding /next
        size = (BIN / "autopilot-controller").stat().st_size / 1e6
        size_capacity = (BIN / "autopilot-capacity").stat().st_size / 1e6
        print(f"binary size (stripped, release profile, {os.uname().machine}): "
              f"autopilot-controller {size:.2f} MB, autopilot-capacity {size_capacity:.2f} MB")
        print(f"cold start over {args.runs} runs (process start -> first /next): "
              f"median {statistics.median(cold):.1f} ms, min {min(cold):.1f} ms, max {max(cold):.1f} ms")
        print(f"peak RSS after one invocation (VmHWM): median {statistics.median(rss):.1f} MB, max {max(rss):.1f} MB")
    finally:
        moto.kill()


if __name__ == "__main__":
    main()
