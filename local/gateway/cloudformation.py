"""CloudFormation's template language, as much of it as SAM templates use: YAML with the short-form tags
(`!Ref`, `!Sub`, `!If`...) loaded as their long forms, parameter values typed and checked against their
declarations, and intrinsic functions resolved against parameters, pseudo parameters and conditions.

Hand-written: cfn-lint and SAM's translator validate and transform templates but resolve no intrinsic
against parameter values, and the gateway must serve the template exactly as a deployment of it behaves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

NO_VALUE = object()  # AWS::NoValue: the key or list item disappears
_INTRINSIC_TAGS = (
    "Base64",
    "Cidr",
    "Equals",
    "FindInMap",
    "GetAZs",
    "If",
    "ImportValue",
    "Join",
    "Not",
    "And",
    "Or",
    "Select",
    "Split",
    "Sub",
    "Transform",
    "Length",
    "ToJsonString",
)


class TemplateError(ValueError):
    """The template cannot be served as written (names the resource or property at fault)."""


class _CloudFormationLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short-form tags into their long (JSON) forms."""


def _construct(node: yaml.Node, loader: yaml.SafeLoader) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    assert isinstance(node, yaml.MappingNode)
    return loader.construct_mapping(node, deep=True)


def _register_tags() -> None:
    def long_form(name: str) -> Callable[[yaml.SafeLoader, yaml.Node], dict[str, Any]]:
        return lambda loader, node: {name: _construct(node, loader)}

    def get_att(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value = _construct(node, loader)
        if isinstance(value, str):
            value = value.split(".", 1)
        return {"Fn::GetAtt": value}

    _CloudFormationLoader.add_constructor("!Ref", long_form("Ref"))
    _CloudFormationLoader.add_constructor("!Condition", long_form("Condition"))
    _CloudFormationLoader.add_constructor("!GetAtt", get_att)
    for tag in _INTRINSIC_TAGS:
        _CloudFormationLoader.add_constructor(f"!{tag}", long_form(f"Fn::{tag}"))


_register_tags()


def load_template(path: Path) -> dict[str, Any]:
    """Parse a CloudFormation/SAM YAML template, short-form tags included."""
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_CloudFormationLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError(f"{path}: a template needs a Resources mapping")
    return document


class Resolver:
    """Resolves intrinsic functions the way CloudFormation does at deploy time."""

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, Any],
        *,
        account_id: str,
        region: str,
        stack_name: str = "local",
        physical_ids: Mapping[str, str] | None = None,
    ) -> None:
        self._template = template
        # What the local stack created for a resource (`Ref` by logical id, `GetAtt` by "Logical.Attribute");
        # any other resource's logical id stands in for its physical id.
        self._physical_ids = dict(physical_ids or {})
        self._refs: dict[str, Any] = {
            "AWS::AccountId": account_id,
            "AWS::Region": region,
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        self._refs.update(parameters)
        self._conditions: dict[str, bool] = {}
        self._evaluating: set[str] = set()

    def condition(self, name: str) -> bool:
        if name in self._conditions:
            return self._conditions[name]
        definitions = self._template.get("Conditions") or {}
        if name not in definitions:
            raise TemplateError(f"condition {name!r} is not defined in Conditions")
        if name in self._evaluating:
            raise TemplateError(f"condition {name!r} refers to itself")
        self._evaluating.add(name)
        try:
            value = self.resolve(definitions[name])
        finally:
            self._evaluating.discard(name)
        if not isinstance(value, bool):
            raise TemplateError(f"condition {name!r} does not evaluate to true or false")
        self._conditions[name] = value
        return value

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref(argument)
            if key == "Condition" and isinstance(argument, str):
                return self.condition(argument)
            if key.startswith("Fn::"):
                return self._function(key[4:], argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _ref(self, name: Any) -> Any:
        if name in self._refs:
            return self._refs[name]
        if name in self._template["Resources"]:
            return self._physical_ids.get(name, name)
        raise TemplateError(f"Ref to {name!r}: no such parameter, pseudo parameter or resource")

    def _function(self, name: str, argument: Any) -> Any:
        if name == "If":
            condition, if_true, if_false = argument
            return self.resolve(if_true if self.condition(condition) else if_false)
        if name == "Sub":
            return self._sub(argument)
        if name == "GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            if logical_id not in self._template["Resources"]:
                raise TemplateError(f"GetAtt {logical_id}.{attribute}: no such resource")
            return self._physical_ids.get(f"{logical_id}.{attribute}", f"{logical_id}.{attribute}")
        args = self.resolve(argument)
        if name == "Equals":
            left, right = args
            return left == right
        if name == "Not":
            return not args[0]
        if name == "And":
            return all(args)
        if name == "Or":
            return any(args)
        if name == "Join":
            separator, items = args
            return separator.join(str(item) for item in items)
        if name == "Split":
            separator, text = args
            return text.split(separator)
        if name == "Select":
            index, items = args
            return items[int(index)]
        if name == "FindInMap":
            map_name, top, second = args
            try:
                return self._template["Mappings"][map_name][top][second]
            except KeyError as exc:
                raise TemplateError(f"FindInMap {map_name}/{top}/{second}: not in Mappings") from exc
        if name == "Length":
            return len(args)
        if name == "ToJsonString":
            return json.dumps(args, separators=(",", ":"))
        raise TemplateError(f"Fn::{name} is not supported by the local gateway")

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], self.resolve(argument[1])
        else:
            text, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression.startswith("!"):
                return "${" + expression[1:] + "}"  # ${!Literal} is the escape for a literal ${Literal}
            if expression in variables:
                value = variables[expression]
            elif "." in expression and expression.split(".", 1)[0] in self._template["Resources"]:
                value = self._function("GetAtt", expression.split(".", 1))
            else:
                value = self._ref(expression)
            if isinstance(value, list):
                raise TemplateError(f"Sub ${{{expression}}}: a list cannot be substituted into a string")
            return str(value)

        return re.sub(r"\$\{([^}]+)\}", replace, text)


def parameter_values(template: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    declared = template.get("Parameters") or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise TemplateError(f"parameter values given for parameters the template does not declare: {unknown}")
    values: dict[str, Any] = {}
    for name, declaration in declared.items():
        if name in given:
            raw = given[name]
        elif "Default" in declaration:
            raw = declaration["Default"]
        else:
            raise TemplateError(f"parameter {name} has no default and no value was given")
        values[name] = _typed_parameter(name, declaration, raw)
    return values


def _typed_parameter(name: str, declaration: Mapping[str, Any], raw: Any) -> Any:
    kind = str(declaration.get("Type", "String"))
    if kind == "CommaDelimitedList" or kind.startswith("List<"):
        items = raw if isinstance(raw, list) else [item.strip() for item in str(raw).split(",")]
        return [str(item) for item in items]
    value = str(raw).lower() if isinstance(raw, bool) else str(raw)
    allowed = declaration.get("AllowedValues")
    if allowed is not None and value not in [str(option) for option in allowed]:
        raise TemplateError(f"parameter {name}={value!r} is not one of its AllowedValues {allowed}")
    pattern = declaration.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(pattern, value):
        raise TemplateError(f"parameter {name}={value!r} does not match its AllowedPattern")
    return value
