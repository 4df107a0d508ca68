"""Infra checks (run by scripts/test through .venv/bin/python):

1. cfn-lint on the SAM template (no errors or warnings);
2. aws-sam-translator translates it to plain CloudFormation (cfn-lint >= 1.54
   no longer expands the transform, so mistakes inside SAM resources would
   slip through) and cfn-lint checks the translation with our policy rules
   (infra/rules: no wildcard actions, a DLQ or on-failure destination per
   function, encrypted table with point-in-time recovery, log retention);
3. negative tests: seeded copies of the template (a wildcard action, a
   function without a DLQ, ...) must fail with the expected rule.

Exit status 0 only when everything holds.
"""

import copy
import json
import os
import pathlib
import re
import subprocess
import sys

from cfnlint.decode import decode
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
RULES = ROOT / "infra" / "rules"
OUT = ROOT / "target" / "infra"
CFN_LINT = str(pathlib.Path(sys.executable).parent / "cfn-lint")


class NoManagedPolicies:
    """The template attaches no managed policies by name: nothing to load."""

    def load(self):
        return {}


def load(path):
    template, errors = decode(str(path))
    if errors:
        sys.exit(f"{path}: cannot be parsed: {errors}")
    return template


def translate(template):
    # The translator asks boto for a region; no AWS account is involved.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    parameters = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
    packaged = copy.deepcopy(template)
    # What `sam package` does: local code becomes an S3 object.
    for resource in packaged.get("Resources", {}).values():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and not str(props.get("CodeUri", "")).startswith("s3://"):
            props["CodeUri"] = "s3://ecs-autopilot-artifacts/functions.zip"
    return transform(packaged, parameters, NoManagedPolicies())


def lint(path, extra=()):
    """cfn-lint's findings (rule ids) and full output for a template file."""
    result = subprocess.run(
        [CFN_LINT, "--format", "parseable", *extra, "--", str(path)], capture_output=True, text=True, check=False
    )
    # parseable: file:line:column:end line:end column:RULE:message
    ids = [m.group(1) for m in (re.search(r":([EWI]\d{4}):", line) for line in result.stdout.splitlines()) if m]
    return result.returncode, ids, result.stdout + result.stderr


def write(name, template):
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    path.write_text(json.dumps(template, indent=1, default=str))
    return path


def check_template(sam, name):
    """Lints SAM source and translation with the policy rules; returns rule ids found."""
    source = write(f"{name}.sam.json", sam)
    _, sam_ids, sam_out = lint(source)
    try:
        translated = write(f"{name}.translated.json", translate(sam))
    except InvalidDocumentException as e:
        return sam_ids + ["SAM"], sam_out + f"aws-sam-translator: {e}"
    _, cfn_ids, cfn_out = lint(translated, ["--append-rules", str(RULES)])
    return sam_ids + cfn_ids, sam_out + cfn_out


def main():
    failures = []
    sam = load(TEMPLATE)

    code, ids, out = lint(TEMPLATE)
    print(f"cfn-lint infra/template.yaml: {len(ids)} finding(s)")
    if code != 0 or ids:
        failures.append(f"cfn-lint on the SAM template:\n{out}")

    ids, out = check_template(sam, "template")
    print(f"aws-sam-translator + cfn-lint + policy rules: {len(ids)} finding(s)")
    if ids:
        failures.append(f"translated template:\n{out}")

    # Seeded mistakes the checks must catch.
    def wildcard_action(t):
        statement = t["Resources"]["ControllerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0]
        statement["Action"] = "ecs:*"

    def missing_dlq(t):
        del t["Resources"]["CapacityFunction"]["Properties"]["EventInvokeConfig"]

    def unencrypted_table(t):
        del t["Resources"]["StateTable"]["Properties"]["SSESpecification"]

    def no_point_in_time_recovery(t):
        t["Resources"]["StateTable"]["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] = False

    def no_log_retention(t):
        del t["Resources"]["ControllerLogGroup"]["Properties"]["RetentionInDays"]

    def admin_policy(t):
        t["Resources"]["CapacityRole"]["Properties"]["ManagedPolicyArns"] = ["arn:aws:iam::aws:policy/AdministratorAccess"]

    def untagged_update_service(t):
        statements = t["Resources"]["ControllerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        scale = next(s for s in statements if s.get("Sid") == "ScaleTaggedServicesOnly")
        del scale["Condition"]["StringEquals"]

    def task_definition_changes_allowed(t):
        statements = t["Resources"]["ControllerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        statements[:] = [s for s in statements if s.get("Sid") != "NeverChangeTaskDefinitions"]

    def capacity_alarm_outside_its_condition(t):
        # A Fargate-only stack (CapacityProviderName empty) deploys no
        # capacity function: anything referring to it must share its
        # condition (docs/deploy.md).
        del t["Resources"]["CapacityErrorsAlarm"]["Condition"]

    def capacity_target_unconditioned(t):
        targets = t["Resources"]["MetricTickRule"]["Properties"]["Targets"]
        targets[:] = [x["Fn::If"][1] if isinstance(x, dict) and "Fn::If" in x else x for x in targets]

    seeded = [
        ("capacity-alarm-outside-its-condition", capacity_alarm_outside_its_condition, "W1001"),
        ("capacity-target-unconditioned", capacity_target_unconditioned, "W1001"),
        ("untagged-update-service", untagged_update_service, "E9106"),
        ("task-definition-changes-allowed", task_definition_changes_allowed, "E9106"),
        ("wildcard-action", wildcard_action, "E9101"),
        ("missing-dlq", missing_dlq, "E9103"),
        ("unencrypted-table", unencrypted_table, "E9104"),
        ("no-point-in-time-recovery", no_point_in_time_recovery, "E9104"),
        ("no-log-retention", no_log_retention, "E9105"),
        ("admin-policy", admin_policy, "E9102"),
    ]
    for name, mutate, rule in seeded:
        bad = copy.deepcopy(sam)
        mutate(bad)
        ids, out = check_template(bad, f"negative-{name}")
        caught = rule in ids
        print(f"negative test {name}: {'caught by ' + rule if caught else 'NOT CAUGHT'}")
        if not caught:
            failures.append(f"seeded mistake {name} was not caught by {rule}:\n{out}")

    if failures:
        print("\n\n".join(failures), file=sys.stderr)
        sys.exit(1)
    print("infra checks passed")


if __name__ == "__main__":
    main()
