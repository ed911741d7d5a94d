"""template.yaml as a deployed stack would see it: parameters, conditions and intrinsics resolved.

What cloud-check needs from the template, per function: its code dir, handler, memory, timeout,
ephemeral storage, environment (Globals merged with the function's own), the IAM statements of
its role (managed policies of this template, inline documents, SAM policy templates expanded
with samtranslator's own data when it is installed), its scheduled events, and the HTTP API's
routes (which function API Gateway hands a request to).

Values that only exist in an account (ARNs of created resources) resolve to plausible strings;
``AWS::NoValue`` removes the key or list item it stands in, as CloudFormation does.
"""

from __future__ import annotations

import glob
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

ACCOUNT = "123456789012"
REGION = "us-east-1"
_NOVALUE = object()

__all__ = ["Stack", "Function", "Route", "load_stack"]


@dataclass
class Function:
    name: str
    code_uri: str
    handler: str
    memory_mb: int
    timeout_s: int
    ephemeral_mb: int
    environment: dict[str, str]
    statements: list[dict]
    schedules: list[dict] = field(default_factory=list)  # each: {"name", "schedule", "input"}
    reserved_concurrency: int | None = None
    log_group: str | None = None
    function_name: str = ""


@dataclass
class Route:
    method: str  # ANY or an HTTP method; "$default" routes have method "*" and path "$default"
    path: str
    function: str
    timeout_ms: int = 30_000
    authorization: str = "NONE"


@dataclass
class Stack:
    parameters: dict[str, str]
    functions: dict[str, Function]
    routes: list[Route]
    resources: dict[str, dict]

    def route(self, method: str, path: str) -> Route | None:
        """The route API Gateway (HTTP API) picks: exact paths before {param}, greedy {proxy+} last, then $default."""
        best, best_score = None, None
        for r in self.routes:
            if r.path == "$default" or r.method not in ("ANY", method.upper()):
                continue
            score = _match_score(r.path, path)
            if score is None:
                continue
            score = (*score, r.method != "ANY")
            if best_score is None or score > best_score:
                best, best_score = r, score
        return best or next((r for r in self.routes if r.path == "$default"), None)


def _match_score(pattern: str, path: str) -> tuple | None:
    pp, sp = pattern.strip("/").split("/"), path.split("?")[0].strip("/").split("/")
    exact = params = 0
    for i, part in enumerate(pp):
        if part.startswith("{") and part.endswith("+}"):
            return (0, exact, params) if len(sp) > i and sp[i] else None
        if i >= len(sp):
            return None
        if part.startswith("{"):
            params += 1
        elif part != sp[i]:
            return None
        else:
            exact += 1
    return (1, exact, -params) if len(pp) == len(sp) else None


class _Resolver:
    def __init__(self, template: dict, parameters: dict[str, str]) -> None:
        self.t = template
        self.params = {}
        for name, spec in template.get("Parameters", {}).items():
            value = parameters.get(name, spec.get("Default"))
            if spec.get("Type") == "CommaDelimitedList":
                value = [v for v in str(value or "").split(",")] if not isinstance(value, list) else value
            self.params[name] = value
        self.params.update({"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws",
                            "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "membucket",
                            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/membucket/1"})
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.value(self.t["Conditions"][name]))
        return self._conditions[name]

    def ref(self, name: str):
        if name == "AWS::NoValue":
            return _NOVALUE
        if name in self.params:
            return self.params[name]
        res = self.t["Resources"].get(name)
        if res is None:
            raise KeyError(f"!Ref {name}: no such parameter or resource")
        props = res.get("Properties", {})
        kind = res["Type"]
        if kind == "AWS::Logs::LogGroup":
            return self.value(props["LogGroupName"]) if "LogGroupName" in props else f"membucket-{name}-GENERATED"
        if kind == "AWS::S3::Bucket" and "BucketName" in props:
            return self.value(props["BucketName"])
        if kind == "AWS::IAM::ManagedPolicy":
            return {"__policy__": name}
        if kind == "AWS::Serverless::Function":
            return self.value(props["FunctionName"]) if "FunctionName" in props else f"membucket-{name}-CFNGENERATED"
        return name

    def value(self, v):
        if isinstance(v, list):
            out = [self.value(x) for x in v]
            return [x for x in out if x is not _NOVALUE]
        if not isinstance(v, dict):
            return v
        if len(v) == 1:
            (k, arg), = v.items()
            if k == "Ref":
                return self.ref(arg)
            if k == "Condition":
                return self.condition(arg)
            if k.startswith("Fn::"):
                return self.fn(k[4:], arg)
        out = {k: self.value(x) for k, x in v.items()}
        return {k: x for k, x in out.items() if x is not _NOVALUE}

    def fn(self, name: str, arg):
        if name == "If":
            cond, yes, no = arg
            return self.value(yes if self.condition(cond) else no)
        if name == "Equals":
            a, b = (self.value(x) for x in arg)
            return str(a) == str(b)
        if name == "Not":
            return not self.value(arg[0])
        if name == "And":
            return all(self.value(x) for x in arg)
        if name == "Or":
            return any(self.value(x) for x in arg)
        if name == "Join":
            sep, items = arg
            return sep.join(str(x) for x in self.value(items))
        if name == "Select":
            return self.value(arg[1])[int(self.value(arg[0]))]
        if name == "Split":
            return str(self.value(arg[1])).split(arg[0])
        if name == "GetAtt":
            res, attr = arg if isinstance(arg, list) else arg.split(".", 1)
            if attr == "Arn":
                kind = self.t["Resources"][res]["Type"]
                if kind == "AWS::Serverless::Function":
                    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{res}"
                return f"arn:aws:{kind.split('::')[1].lower()}:{REGION}:{ACCOUNT}:{res}"
            return f"{res}.{attr}"
        if name == "Sub":
            text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], {k: self.value(x) for k, x in arg[1].items()})

            def sub(m):
                key = m.group(1)
                if key.startswith("!"):
                    return "${" + key[1:] + "}"
                if key in extra:
                    return str(extra[key])
                if "." in key:
                    return str(self.fn("GetAtt", key.split(".", 1)))
                return str(self.ref(key))

            return re.sub(r"\$\{([^}]+)\}", sub, text)
        raise NotImplementedError(f"Fn::{name}")


def _sam_policy_templates() -> dict:
    pattern = ".sam-venv/lib/python3*/site-packages/samtranslator/policy_templates_data/policy_templates.json"
    for path in glob.glob(str(Path(__file__).resolve().parents[2] / pattern)):
        return json.loads(Path(path).read_text())["Templates"]
    return {}


def _policy_statements(r: _Resolver, item, sam_templates: dict) -> list[dict]:
    """The statements one entry of a function's Policies list grants."""
    if item is _NOVALUE:
        return []
    if isinstance(item, dict) and "__policy__" in item:
        doc = r.value(r.t["Resources"][item["__policy__"]]["Properties"]["PolicyDocument"])
        return list(doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]])
    if isinstance(item, str):  # an AWS managed policy ARN or name: nothing on S3 for our purposes
        return []
    if isinstance(item, dict) and "Statement" in item:
        return list(item["Statement"])
    if isinstance(item, dict) and len(item) == 1:  # SAM policy template
        (name, params), = item.items()
        tpl = sam_templates.get(name)
        if tpl is None:
            raise KeyError(f"SAM policy template {name} unknown (is .sam-venv installed?)")
        sub = _Resolver({"Parameters": {}, "Resources": r.t["Resources"], "Conditions": {}}, {})
        sub.params.update(r.params)
        sub.params.update({k: v for k, v in (params or {}).items()})
        return list(sub.value(tpl["Definition"])["Statement"])
    raise ValueError(f"unsupported policy entry {item!r}")


def load_stack(template: dict, parameters: dict[str, str]) -> Stack:
    r = _Resolver(template, parameters)
    g = template.get("Globals", {}).get("Function", {})
    sam_templates = _sam_policy_templates()
    functions: dict[str, Function] = {}
    for name, res in template["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function" or ("Condition" in res and not r.condition(res["Condition"])):
            continue
        p = res["Properties"]
        env = {**r.value(g.get("Environment", {}).get("Variables", {})), **r.value(p.get("Environment", {}).get("Variables", {}))}
        policies = r.value(p.get("Policies", []))
        statements = [s for item in (policies if isinstance(policies, list) else [policies]) for s in _policy_statements(r, item, sam_templates)]
        schedules = []
        for ev_name, ev in (p.get("Events") or {}).items():
            if ev["Type"] in ("Schedule", "ScheduleV2"):
                props = r.value(ev["Properties"])
                schedules.append({"name": ev_name, "schedule": props.get("Schedule") or props.get("ScheduleExpression"),
                                  "input": json.loads(props["Input"]) if "Input" in props else None})
        log_group = None
        if "LoggingConfig" in p:
            log_group = r.value(p["LoggingConfig"]).get("LogGroup")
        functions[name] = Function(
            name=name, code_uri=p["CodeUri"], handler=p.get("Handler", g.get("Handler")),
            memory_mb=int(r.value(p.get("MemorySize", g.get("MemorySize", 128)))),
            timeout_s=int(r.value(p.get("Timeout", g.get("Timeout", 3)))),
            ephemeral_mb=int(r.value((p.get("EphemeralStorage") or g.get("EphemeralStorage") or {"Size": 512})["Size"])),
            environment={k: str(v) for k, v in env.items()}, statements=statements, schedules=schedules,
            reserved_concurrency=int(r.value(p["ReservedConcurrentExecutions"])) if "ReservedConcurrentExecutions" in p else None,
            log_group=log_group, function_name=str(r.ref(name)),
        )
    integrations = {}
    for name, res in template["Resources"].items():
        if res["Type"] == "AWS::ApiGatewayV2::Integration":
            uri = res["Properties"]["IntegrationUri"]
            if isinstance(uri, dict) and "Fn::GetAtt" in uri:
                fn = uri["Fn::GetAtt"][0]
            elif isinstance(uri, dict) and "Ref" in uri:  # a function's alias (SAM's AutoPublishAlias): <Function>.Alias
                fn = str(uri["Ref"]).split(".", 1)[0]
            else:
                fn = str(uri)
            integrations[name] = (fn, int(res["Properties"].get("TimeoutInMillis", 30_000)))
    routes = []
    for res in template["Resources"].values():
        if res["Type"] != "AWS::ApiGatewayV2::Route":
            continue
        props = r.value(res["Properties"])
        target = props["Target"].split("/", 1)[1]
        fn, timeout = integrations[target]
        key = props["RouteKey"]
        method, path = ("*", "$default") if key == "$default" else key.split(" ", 1)
        routes.append(Route(method=method, path=path, function=fn, timeout_ms=timeout, authorization=props.get("AuthorizationType", "NONE")))
    return Stack(parameters={k: v for k, v in r.params.items() if not k.startswith("AWS::")}, functions=functions,
                 routes=routes, resources=template["Resources"])
