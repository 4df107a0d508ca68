"""ecs-autopilot's policy rules for its CloudFormation template, as cfn-lint
custom rules (run with `cfn-lint --append-rules infra/rules`, on the template
translated from SAM by aws-sam-translator; see infra/checks/check.py).

E9101 no wildcard IAM actions
E9102 no administrator managed policies
E9103 every Lambda function has a dead-letter queue or an on-failure destination
E9104 every DynamoDB table is encrypted and has point-in-time recovery
E9105 every Lambda function logs to a log group with a retention period
E9106 ecs:UpdateService is allowed only on services tagged ecs-autopilot:managed=true,
      and a request naming a task definition is denied
"""

from cfnlint.rules import CloudFormationLintRule, RuleMatch


def _statements(document):
    statements = (document or {}).get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _policy_documents(cfn):
    """(path, document) of every identity policy in the template."""
    for name, resource in cfn.get_resources(["AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"]).items():
        for i, policy in enumerate(resource.get("Properties", {}).get("Policies", []) or []):
            yield ["Resources", name, "Properties", "Policies", i, "PolicyDocument"], policy.get("PolicyDocument")
    for name, resource in cfn.get_resources(["AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"]).items():
        yield ["Resources", name, "Properties", "PolicyDocument"], resource.get("Properties", {}).get("PolicyDocument")


def _ref(value):
    """The logical id a Ref / GetAtt points to, if any."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return target[0] if isinstance(target, list) else str(target).split(".")[0]
    return None


class NoWildcardActions(CloudFormationLintRule):
    id = "E9101"
    shortdesc = "No wildcard IAM actions"
    description = "Every IAM statement names the exact actions it allows (no '*' in an action)."
    tags = ["iam", "ecs-autopilot"]

    def match(self, cfn):
        matches = []
        for path, document in _policy_documents(cfn):
            for i, statement in enumerate(_statements(document)):
                actions = statement.get("Action", []) if isinstance(statement, dict) else []
                actions = actions if isinstance(actions, list) else [actions]
                for action in actions:
                    if isinstance(action, str) and "*" in action:
                        matches.append(
                            RuleMatch(path + ["Statement", i, "Action"], f"wildcard action {action!r}: name the exact actions")
                        )
                if isinstance(statement, dict) and "NotAction" in statement:
                    matches.append(RuleMatch(path + ["Statement", i, "NotAction"], "NotAction allows every other action"))
        return matches


class NoAdminManagedPolicies(CloudFormationLintRule):
    id = "E9102"
    shortdesc = "No administrator managed policies"
    description = "Roles do not attach AdministratorAccess, PowerUserAccess or IAMFullAccess."
    tags = ["iam", "ecs-autopilot"]

    FORBIDDEN = ("AdministratorAccess", "PowerUserAccess", "IAMFullAccess")

    def match(self, cfn):
        matches = []
        for name, resource in cfn.get_resources(["AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"]).items():
            for i, arn in enumerate(resource.get("Properties", {}).get("ManagedPolicyArns", []) or []):
                if any(str(arn).endswith("/" + p) for p in self.FORBIDDEN) or any(p in str(arn) for p in self.FORBIDDEN):
                    matches.append(RuleMatch(["Resources", name, "Properties", "ManagedPolicyArns", i], f"{arn}: an administrator policy"))
        return matches


class FunctionFailureDestination(CloudFormationLintRule):
    id = "E9103"
    shortdesc = "Lambda functions have a dead-letter queue or on-failure destination"
    description = "A failed asynchronous invocation is kept (DeadLetterConfig or EventInvokeConfig OnFailure)."
    tags = ["lambda", "ecs-autopilot"]

    def match(self, cfn):
        with_destination = set()
        for resource in cfn.get_resources(["AWS::Lambda::EventInvokeConfig"]).values():
            props = resource.get("Properties", {})
            if ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination"):
                with_destination.add(_ref(props.get("FunctionName")))
        matches = []
        for name, resource in cfn.get_resources(["AWS::Lambda::Function"]).items():
            dlq = (resource.get("Properties", {}).get("DeadLetterConfig") or {}).get("TargetArn")
            if not dlq and name not in with_destination:
                matches.append(RuleMatch(["Resources", name], f"function {name} has neither a DeadLetterConfig nor an on-failure destination"))
        return matches


class TableEncryptedWithRecovery(CloudFormationLintRule):
    id = "E9104"
    shortdesc = "DynamoDB tables are encrypted with point-in-time recovery"
    description = "SSESpecification.SSEEnabled and PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled are true."
    tags = ["dynamodb", "ecs-autopilot"]

    def match(self, cfn):
        matches = []
        for name, resource in cfn.get_resources(["AWS::DynamoDB::Table"]).items():
            props = resource.get("Properties", {})
            if (props.get("SSESpecification") or {}).get("SSEEnabled") is not True:
                matches.append(RuleMatch(["Resources", name, "Properties"], f"table {name}: SSESpecification.SSEEnabled must be true"))
            if (props.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled") is not True:
                matches.append(
                    RuleMatch(["Resources", name, "Properties"], f"table {name}: point-in-time recovery must be enabled")
                )
        return matches


class LogRetention(CloudFormationLintRule):
    id = "E9105"
    shortdesc = "Functions log to a log group with retention"
    description = "Every function sets LoggingConfig.LogGroup to a log group of this template with RetentionInDays."
    tags = ["logs", "lambda", "ecs-autopilot"]

    def match(self, cfn):
        matches = []
        groups = cfn.get_resources(["AWS::Logs::LogGroup"])
        for name, group in groups.items():
            if "RetentionInDays" not in group.get("Properties", {}):
                matches.append(RuleMatch(["Resources", name, "Properties"], f"log group {name}: RetentionInDays is not set"))
        for name, resource in cfn.get_resources(["AWS::Lambda::Function"]).items():
            target = _ref((resource.get("Properties", {}).get("LoggingConfig") or {}).get("LogGroup"))
            if target not in groups:
                matches.append(
                    RuleMatch(["Resources", name, "Properties"], f"function {name}: LoggingConfig.LogGroup must name a log group of this template (with retention)")
                )
        return matches


class UpdateServiceOnTaggedServices(CloudFormationLintRule):
    id = "E9106"
    shortdesc = "UpdateService only on tagged services, never a task definition"
    description = (
        "Every statement allowing ecs:UpdateService requires the resource tag ecs-autopilot:managed=true, "
        "and the same policy denies UpdateService requests that name a task definition."
    )
    tags = ["iam", "ecs-autopilot"]

    TAG = "aws:ResourceTag/ecs-autopilot:managed"

    @staticmethod
    def _actions(statement):
        actions = statement.get("Action", []) if isinstance(statement, dict) else []
        return actions if isinstance(actions, list) else [actions]

    def match(self, cfn):
        matches = []
        for path, document in _policy_documents(cfn):
            statements = _statements(document)
            allows = [
                (i, s) for i, s in enumerate(statements)
                if s.get("Effect") == "Allow" and "ecs:UpdateService" in self._actions(s)
            ]
            for i, statement in allows:
                equals = (statement.get("Condition") or {}).get("StringEquals") or {}
                if str(equals.get(self.TAG)).lower() != "true":
                    matches.append(
                        RuleMatch(
                            path + ["Statement", i],
                            f"ecs:UpdateService must be conditioned on {self.TAG} = true (only the configured services)",
                        )
                    )
            if allows and not any(
                s.get("Effect") == "Deny"
                and "ecs:UpdateService" in self._actions(s)
                and str(((s.get("Condition") or {}).get("Null") or {}).get("ecs:task-definition")).lower() == "false"
                for s in statements
            ):
                matches.append(
                    RuleMatch(path, "a policy allowing ecs:UpdateService must deny requests that name a task definition")
                )
        return matches
