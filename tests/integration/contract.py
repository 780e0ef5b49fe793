"""The API contract: docs/openapi.yaml. Every response a test receives from the daemon goes
through check(), which fails the test when its status is not documented for its path or its JSON
body does not match the documented schema (Debian's python3-jsonschema; OpenAPI 3.0's
`nullable` is turned into JSON Schema's null type first). So the document cannot drift from
what the daemon answers."""
import gzip
import json
import os
import re
import urllib.parse

import jsonschema
import yaml

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OPENAPI = os.path.join(SOURCE_ROOT, "docs", "openapi.yaml")


def _json_schema(node):
    """OpenAPI 3.0 schema objects → JSON Schema (draft 4): nullable: true becomes "or null"."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items() if k not in ("nullable", "example")}
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


class Contract:
    def __init__(self, path=OPENAPI):
        with open(path) as f:
            self.doc = yaml.safe_load(f)
        self.schemas = _json_schema(self.doc)
        self.resolver = jsonschema.RefResolver.from_schema(self.schemas)
        self.paths = []
        for template in self.doc["paths"]:
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            self.paths.append((template, re.compile(pattern)))
        # Exact paths before templates.
        self.paths.sort(key=lambda p: "{" in p[0])

    def operation(self, path):
        for template, pattern in self.paths:
            if pattern.match(path):
                return template, self.doc["paths"][template]
        return None, None

    def check(self, method, url, status, headers, body):
        """Raises AssertionError when the response breaks the contract."""
        path = urllib.parse.urlsplit(url).path
        template, item = self.operation(path)
        headers = {k.lower(): v for k, v in headers.items()}
        ctype = headers.get("content-type", "").split(";")[0].strip()
        where = "%s %s → %d" % (method, url, status)
        if method not in ("GET", "HEAD"):
            if status != 405 or "allow" not in headers:
                raise AssertionError("%s: other methods must get 405 with Allow" % where)
            return self._check_body(where, {"$ref": "#/components/schemas/Error"}, ctype,
                                    headers, body)
        if template is None:
            if status != 404:
                raise AssertionError("%s: an undocumented path must get 404" % where)
            return self._check_body(where, {"$ref": "#/components/schemas/Error"}, ctype,
                                    headers, body)
        responses = item["get"]["responses"]
        response = responses.get(str(status))
        if response is None:
            # 500 is what any endpoint answers when it cannot build its answer at all.
            if status == 500:
                return self._check_body(where, {"$ref": "#/components/schemas/Error"}, ctype,
                                        headers, body)
            raise AssertionError("%s: status %d is not documented for %s (documented: %s)"
                                 % (where, status, template, ", ".join(responses)))
        if "$ref" in response:
            response = self._deref(response["$ref"])
        content = response.get("content")
        if not content:
            if body:
                raise AssertionError("%s: documented without a body, got %d bytes"
                                     % (where, len(body)))
            return None
        if method == "HEAD":
            return None
        if ctype not in content:
            raise AssertionError("%s: content type %r is not documented (%s)"
                                 % (where, ctype, ", ".join(content)))
        return self._check_body(where, content[ctype].get("schema"), ctype, headers, body)

    def _deref(self, ref):
        node = self.doc
        for part in ref.lstrip("#/").split("/"):
            node = node[part]
        return node

    def _check_body(self, where, schema, ctype, headers, body):
        if ctype != "application/json" or schema is None or body is None:
            return None
        if headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        try:
            doc = json.loads(body) if isinstance(body, (bytes, str)) else body
        except ValueError as e:
            raise AssertionError("%s: body is not JSON: %s" % (where, e))
        try:
            jsonschema.Draft4Validator(_json_schema(schema), resolver=self.resolver).validate(doc)
        except jsonschema.ValidationError as e:
            raise AssertionError("%s: the body breaks docs/openapi.yaml at %s: %s"
                                 % (where, "/".join(str(p) for p in e.absolute_path),
                                    e.message))
        return doc


_contract = None


def check(method, url, status, headers, body):
    """Checks a response against docs/openapi.yaml (loaded once)."""
    global _contract
    if _contract is None:
        _contract = Contract()
    return _contract.check(method, url, status, headers, body)
