"""Starts moto's server (pinned in .ci/run) with patches that make Lambda behave enough like AWS
for powertune's tests, over real HTTP with SigV4, so the real AWS SDK is exercised.

Usage: python3 tests/moto_server.py PORT

What moto does not do by itself, and this adds:
* Invoke honours `?Qualifier=` (moto reads a lowercase `qualifier` and ignores it), so an alias
  resolves to its version and that version's MemorySize.
* Invoke returns `X-Amz-Log-Result`: START/END/REPORT lines in Lambda's text format, base64, with
  Init Duration on the first invocation of each version (a cold start), and writes the same
  events to CloudWatch Logs (/aws/lambda/NAME) as Lambda would.
* PublishVersion never reuses a number after a delete (moto counts the list).
* Faults AWS has and moto does not: LastUpdateStatus InProgress after an update, 409
  ResourceConflictException, 429 TooManyRequests with Retry-After.

How a function behaves is scripted by its environment variable POWERTUNE_MOTO_SCRIPT, a JSON
object (every key optional):
  cpu_ms       CPU work per invocation at one vCPU; duration = cpu_ms × 1769 / min(memory, 1769)
               (an event that is a JSON object with "cpu_ms" overrides it for that invocation)
  io_ms        waiting time, independent of memory
  mem_mb       Max Memory Used
  oom_below    sizes below this run out of memory (Status: error, Runtime.OutOfMemory)
  error_at     sizes whose invocations raise (X-Amz-Function-Error: Unhandled)
  init_ms      Init Duration of a cold start (default 250)
  sleep_ms     real time each Invoke takes (default 0), to interrupt runs mid-invocation
  log_format   "JSON": the tail holds no REPORT line; platform.report goes to CloudWatch Logs
  cut_tail     true: the tail is the last 4 KB of a chatty log, cut before the REPORT
  logs_delay_ms  how long CloudWatch Logs takes to ingest the events (default 0)
  in_progress  GetFunction shows LastUpdateStatus InProgress this many times after each update,
               and updates or publishes in that window fail with ResourceConflictException
  throttle_every  every Nth Invoke gets 429 TooManyRequests with Retry-After: 1
  conflicts    the first N UpdateFunctionConfiguration/PublishVersion calls fail with 409
               ResourceConflictException, whatever LastUpdateStatus says (AWS does that too
               while another operation is in flight)
Every injected fault is also logged to /powertune-test/faults (see moto_fixture.py faults).
"""
import base64
import datetime
import json
import random
import sys
import threading
import time
import uuid

from moto.awslambda import models as lm
from moto.awslambda import responses as lr
from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda_simple import models as sm
from moto.logs.models import logs_backends
from moto.server import ThreadedMotoServer

_tls = threading.local()
_lock = threading.Lock()
_warm = set()  # (function, version) that have had their cold start
_in_progress = {}  # function name -> GetFunction calls left showing InProgress
_next_version = {}  # function name -> next version number
_invokes = {}  # function name -> invocations so far
_conflicts = {}  # function name -> scripted 409s already given


class ResourceConflict(LambdaClientError):
    code = 409

    def __init__(self, message):
        super().__init__("ResourceConflictException", message)


def scripted_conflict(fn):
    """Whether this call gets one of the function's scripted 409s."""
    want = int(script_of(fn).get("conflicts", 0))
    with _lock:
        given = _conflicts.get(fn.function_name, 0)
        if given < want:
            _conflicts[fn.function_name] = given + 1
            return True
    return False


def script_of(fn):
    raw = (fn.environment_vars or {}).get("POWERTUNE_MOTO_SCRIPT", "{}")
    return json.loads(raw)


# --- Invoke: honour the Qualifier, throttle when scripted ----------------------------------------
_orig_invoke = lr.LambdaResponse.invoke


def invoke(self):
    _tls.qualifier = self.querystring.get("Qualifier", [None])[0]
    from urllib.parse import unquote

    name = unquote(self.path.rsplit("/", 2)[-2])
    try:
        fn = self.backend.get_function(name, _tls.qualifier)
        script = script_of(fn)
    except Exception:
        script = {}
    every = script.get("throttle_every")
    if every:
        with _lock:
            n = _invokes.get(name, 0) + 1
            _invokes[name] = n
        if n % int(every) == 0:
            _fault(name, "throttle")
            body = json.dumps(
                {
                    "Type": "User",
                    "message": "Rate Exceeded.",
                    "Reason": "CallerRateLimitExceeded",
                    "retryAfterSeconds": "1",
                }
            )
            return (
                429,
                {
                    # moto takes the status from this header, not from the tuple.
                    "status": "429",
                    "Retry-After": "1",
                    "x-amzn-ErrorType": "TooManyRequestsException",
                    "content-type": "application/json",
                },
                body,
            )
    return _orig_invoke(self)


lr.LambdaResponse.invoke = invoke


def _fault(name, kind):
    """Records a fault this launcher injected (429, InProgress, 409) as a CloudWatch Logs event in
    /powertune-test/faults, stream NAME, so that tests can check the faults really happened."""
    try:
        _put_logs("us-east-1", "123456789012", "/powertune-test/faults", name, [kind], 0)
    except Exception:
        pass


def _stream_name(version):
    day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y/%m/%d")
    return "%s/[%s]%s" % (day, version, uuid.uuid4().hex)


def _put_logs(region, account, group, stream, messages, delay_ms):
    def put():
        backend = logs_backends[account][region]
        if group not in backend.groups:
            try:
                backend.create_log_group(group, {})
            except Exception:
                pass
        try:
            backend.create_log_stream(group, stream)
        except Exception:
            pass
        now = int(time.time() * 1000)
        backend.put_log_events(group, stream, [{"timestamp": now, "message": m} for m in messages])

    if delay_ms:
        threading.Timer(delay_ms / 1000.0, put).start()
    else:
        put()


def simple_invoke(self, function_name, qualifier, body, headers, response_headers):
    qualifier = getattr(_tls, "qualifier", None) or qualifier
    fn = self.get_function(function_name, qualifier)
    script = script_of(fn)
    mem = int(fn.memory_size)
    version = str(fn.version)
    rid = str(uuid.uuid4())
    response_headers["x-amzn-RequestId"] = rid
    response_headers["X-Amz-Executed-Version"] = version
    if script.get("sleep_ms"):
        time.sleep(script["sleep_ms"] / 1000.0)
    key = (fn.function_name, version)
    with _lock:
        cold = key not in _warm
        _warm.add(key)
    jitter = random.uniform(0.95, 1.05)
    try:
        event = json.loads(body or b"{}")
    except ValueError:
        event = None
    if isinstance(event, dict) and "cpu_ms" in event:
        # The event can say how much work it is (payload classes of different weight).
        script = dict(script, cpu_ms=float(event["cpu_ms"]))
    duration = (script.get("cpu_ms", 20) * 1769.0 / min(mem, 1769) + script.get("io_ms", 0)) * jitter
    used = int(script.get("mem_mb", 60) + (random.randint(0, 3)))
    init = script.get("init_ms", 250) * random.uniform(0.95, 1.05) if cold else None
    status = None
    payload = body or b"{}"
    if mem < script.get("oom_below", 0):
        status, used = "error", mem
        payload = json.dumps(
            {
                "errorType": "Runtime.OutOfMemory",
                "errorMessage": "RequestId: %s Error: Runtime exited with error: signal: killed" % rid,
            }
        )
        response_headers["x-amz-function-error"] = "Unhandled"
    elif mem in script.get("error_at", []):
        payload = json.dumps({"errorType": "ValueError", "errorMessage": "scripted failure"})
        response_headers["x-amz-function-error"] = "Unhandled"
    billed = int(-(-(duration + (init or 0)) // 1))

    report = "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %d MB\t" % (
        rid, duration, billed, mem, used)
    if init is not None:
        report += "Init Duration: %.2f ms\t" % init
    if status:
        report = report + "Status: error\tError Type: Runtime.OutOfMemory"
    app = "[INFO] handled %s" % rid
    group = "/aws/lambda/%s" % fn.function_name
    if script.get("log_format") == "JSON":
        ts = datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
        metrics = {
            "durationMs": round(duration, 2),
            "billedDurationMs": billed,
            "memorySizeMB": mem,
            "maxMemoryUsedMB": used,
        }
        if init is not None:
            metrics["initDurationMs"] = round(init, 2)
        rec = {"requestId": rid, "metrics": metrics, "status": "error" if status else "success"}
        if status:
            rec["errorType"] = "Runtime.OutOfMemory"
        lines = [
            json.dumps({"time": ts, "type": "platform.start", "record": {"requestId": rid, "version": version}}),
            json.dumps({"timestamp": ts, "level": "INFO", "message": app, "requestId": rid}),
            json.dumps({"time": ts, "type": "platform.report", "record": rec}),
        ]
        tail = "\n".join(lines[:2]) + "\n"
    else:
        lines = ["START RequestId: %s Version: %s" % (rid, version)]
        if script.get("cut_tail"):
            lines += ["%s line %d: %s" % (app, i, "x" * 60) for i in range(80)]
        else:
            lines.append(app)
        lines += ["END RequestId: %s" % rid, report]
        if script.get("cut_tail"):
            tail = ("\n".join(lines[:-2]) + "\n")[-4096:]
        else:
            tail = "\n".join(lines) + "\n"
    response_headers["x-amz-log-result"] = base64.b64encode(tail.encode()).decode()
    _put_logs(self.region_name, self.account_id, group, _stream_name(version), lines,
              script.get("logs_delay_ms", 0))
    return payload if isinstance(payload, bytes) else payload.encode()


sm.LambdaSimpleBackend.invoke = simple_invoke


# --- Versions: never reuse a number; conflicts while an update is in progress --------------------
_orig_publish = lm.LambdaStorage.publish_version


def publish_version(self, name_or_arn, description=""):
    fn = self.get_function_by_name_or_arn_forbid_qualifier(name_or_arn)
    name = fn.function_name
    if scripted_conflict(fn):
        _fault(name, "conflict")
        raise ResourceConflict("The operation cannot be performed at this time (scripted).")
    with _lock:
        if _in_progress.get(name, 0) > 0:
            _fault(name, "conflict")
            raise ResourceConflict("The operation cannot be performed at this time. An update is in progress for resource: " + fn.function_arn)
    versions = self._functions[name]["versions"]
    if versions and not fn.code_or_config_updated:
        return versions[-1]
    fn.code_or_config_updated = False
    with _lock:
        number = max([_next_version.get(name, 1)] + [int(v.version) + 1 for v in versions])
        _next_version[name] = number + 1
    new = lm.copy.copy(fn)
    new.set_version(number)
    if description:
        new.description = description
    versions.append(new)
    self._arns[new.function_arn] = new
    return new


lm.LambdaStorage.publish_version = publish_version

_orig_update = lm.LambdaFunction.update_configuration


def update_configuration(self, config_updates):
    if scripted_conflict(self):
        _fault(self.function_name, "conflict")
        raise ResourceConflict("The operation cannot be performed at this time (scripted).")
    with _lock:
        if _in_progress.get(self.function_name, 0) > 0:
            _fault(self.function_name, "conflict")
            raise ResourceConflict("The operation cannot be performed at this time. An update is in progress for resource: " + self.function_arn)
    out = _orig_update(self, config_updates)
    n = int(script_of(self).get("in_progress", 0))
    if n:
        with _lock:
            _in_progress[self.function_name] = n
    return out


lm.LambdaFunction.update_configuration = update_configuration

_orig_get_configuration = lm.LambdaFunction.get_configuration


def get_configuration(self, on_create=False):
    config = _orig_get_configuration(self, on_create)
    if str(self.version) == "$LATEST" and "LastUpdateStatus" in config:
        with _lock:
            left = _in_progress.get(self.function_name, 0)
            if left > 0 and getattr(_tls, "counting", False):
                _in_progress[self.function_name] = left - 1
        if left > 0:
            config["LastUpdateStatus"] = "InProgress"
            if getattr(_tls, "counting", False):
                _fault(self.function_name, "in_progress")
    return config


lm.LambdaFunction.get_configuration = get_configuration

_orig_get_function = lr.LambdaResponse.get_function


def get_function(self):
    _tls.counting = True
    try:
        return _orig_get_function(self)
    finally:
        _tls.counting = False


lr.LambdaResponse.get_function = get_function


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print("moto listening on 127.0.0.1:%d" % port, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
