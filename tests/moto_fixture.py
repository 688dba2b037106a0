"""Test helper for powertune's AWS tests, against the moto server of tests/moto_server.py.

  python3 tests/moto_fixture.py URL create NAME SCRIPT_JSON [MEMORY]
      creates a function (moto's no-docker Lambda) whose behaviour SCRIPT_JSON scripts
  python3 tests/moto_fixture.py URL invoke NAME COUNT
      invokes $LATEST COUNT times (its REPORT lines go to CloudWatch Logs, as on AWS)
  python3 tests/moto_fixture.py URL faults NAME
      prints how many 429s, InProgress answers and 409s the server injected for NAME, as JSON
  python3 tests/moto_fixture.py URL state NAME
      prints the function's configuration, versions and aliases as JSON, to compare runs by
"""
import io
import json
import sys
import urllib.request
import zipfile

import boto3

url, verb, name = sys.argv[1], sys.argv[2], sys.argv[3]
kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
          aws_secret_access_key="testing")
lam = boto3.client("lambda", **kw)

if verb == "create":
    script = sys.argv[4]
    memory = int(sys.argv[5]) if len(sys.argv) > 5 else 1024
    req = urllib.request.Request(url + "/moto-api/config", method="POST",
                                 data=json.dumps({"lambda": {"use_docker": False}}).encode(),
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
    iam = boto3.client("iam", **kw)
    try:
        role = iam.create_role(RoleName="powertune-test", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName="powertune-test")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return event\n")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="handler.handler",
                        Code={"ZipFile": code.getvalue()}, MemorySize=memory, Timeout=30,
                        Description="production config",
                        Environment={"Variables": {"POWERTUNE_MOTO_SCRIPT": json.dumps(
                            {k: v for k, v in json.loads(script).items() if k != "conflicts"})}})
    # A version and an alias of the user's own, which powertune must leave alone.
    v = lam.publish_version(FunctionName=name, Description="release 1")["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=v)
    if "conflicts" in json.loads(script):
        # Scripted 409s are for powertune's calls, not for the set-up above: switch them on now.
        lam.update_function_configuration(FunctionName=name,
                                          Environment={"Variables": {"POWERTUNE_MOTO_SCRIPT": script}})
elif verb == "invoke":
    for _ in range(int(sys.argv[4])):
        lam.invoke(FunctionName=name, Payload=b"{}")
elif verb == "faults":
    logs = boto3.client("logs", **kw)
    counts = {"throttle": 0, "in_progress": 0, "conflict": 0}
    try:
        events = logs.get_log_events(logGroupName="/powertune-test/faults", logStreamName=name,
                                     startFromHead=True)["events"]
    except logs.exceptions.ResourceNotFoundException:
        events = []
    for e in events:
        counts[e["message"]] = counts.get(e["message"], 0) + 1
    print(json.dumps(counts))
elif verb == "state":
    cfg = lam.get_function_configuration(FunctionName=name)
    versions = [(v["Version"], v["MemorySize"], v.get("Description", ""))
                for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    aliases = [(a["Name"], a["FunctionVersion"]) for a in lam.list_aliases(FunctionName=name)["Aliases"]]
    print(json.dumps({"memory": cfg["MemorySize"], "description": cfg.get("Description", ""),
                      "timeout": cfg["Timeout"], "versions": versions, "aliases": aliases}))
