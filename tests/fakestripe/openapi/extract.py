"""Extract the JSON Schemas of the Stripe objects Tally reads into schemas.json.

Usage (refresh after upgrading the pinned `stripe` library):

    cd /tmp && npm pack stripe@23.1.0 && tar xzf stripe-23.1.0.tgz   # apiVersion 2026-10-28.endive
    .venv/bin/python tests/fakestripe/openapi/extract.py /tmp/package

(the script refuses a package whose API version differs from stripe-python's).

Why stripe-node's type declarations and not Stripe's OpenAPI file: Stripe
generates the official libraries from its OpenAPI description (stripe/openapi),
and stripe-node's `.d.ts` files keep exactly the two facts we validate against,
per field: required (no `?`) and nullable (`| null`), plus every enum, for the
very API version we pin (the package's `OPENAPI_VERSION` names the spec release,
e.g. v2596 for 2026-10-28.endive). The spec file itself (8 MB) is not available
here. Each response interface becomes one JSON Schema under `$defs`, keyed by its
TypeScript name (`Invoice`, `Invoice.AutomaticTax`, ...):

- a field without `?` is required, `| null` makes it nullable;
- TypeScript's `number` is a JSON integer where stripe-python (same spec, same API
  version, pinned in requirements.txt) annotates the field `int`, so an amount written
  as 12.5 fails;
- string literal unions are enums (the SDK's `| OtherString` escape is dropped:
  we want to know when we write a value Stripe does not document);
- interfaces do not allow unknown properties, so an old-shape field (for
  example `invoice.subscription` or `line_item.price`) fails validation;
- references to objects we do not serve become `{}` (they only occur
  unexpanded, as ids, next to `string`), which keeps the file small; so do
  the payment-method-specific sub-objects other than cards.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

# TypeScript interface -> the resource files it lives in (relative to esm/)
ROOTS = {
    "Customer": "resources/Customers.d.ts", "DeletedCustomer": "resources/Customers.d.ts",
    "Product": "resources/Products.d.ts", "DeletedProduct": "resources/Products.d.ts",
    "Price": "resources/Prices.d.ts", "DeletedPrice": "resources/Prices.d.ts",
    "Plan": "resources/Plans.d.ts", "DeletedPlan": "resources/Plans.d.ts",
    "Coupon": "resources/Coupons.d.ts", "DeletedCoupon": "resources/Coupons.d.ts",
    "TaxRate": "resources/TaxRates.d.ts",
    "Discount": "resources/Discounts.d.ts",
    "Subscription": "resources/Subscriptions.d.ts",
    "SubscriptionItem": "resources/SubscriptionItems.d.ts",
    "SubscriptionSchedule": "resources/SubscriptionSchedules.d.ts",
    "Invoice": "resources/Invoices.d.ts", "DeletedInvoice": "resources/Invoices.d.ts",
    "InvoiceLineItem": "resources/InvoiceLineItems.d.ts",
    "InvoicePayment": "resources/InvoicePayments.d.ts",
    "Charge": "resources/Charges.d.ts",
    "PaymentIntent": "resources/PaymentIntents.d.ts",
    "Refund": "resources/Refunds.d.ts",
    "Dispute": "resources/Disputes.d.ts",
    "BalanceTransaction": "resources/BalanceTransactions.d.ts",
    "CreditNote": "resources/CreditNotes.d.ts",
    "CreditNoteLineItem": "resources/CreditNoteLineItems.d.ts",
    "Radar.EarlyFraudWarning": "resources/Radar/EarlyFraudWarnings.d.ts",
    "EventBase": "resources/Events.d.ts",
}
# Stripe's `object` value -> schema; a deleted object is `{"id", "object", "deleted": true}`
OBJECTS = {
    "customer": "Customer", "product": "Product", "price": "Price", "plan": "Plan",
    "coupon": "Coupon", "tax_rate": "TaxRate", "discount": "Discount",
    "subscription": "Subscription", "subscription_item": "SubscriptionItem",
    "subscription_schedule": "SubscriptionSchedule",
    "invoice": "Invoice", "line_item": "InvoiceLineItem", "invoice_payment": "InvoicePayment",
    "charge": "Charge", "payment_intent": "PaymentIntent", "refund": "Refund",
    "dispute": "Dispute", "balance_transaction": "BalanceTransaction",
    "credit_note": "CreditNote", "credit_note_line_item": "CreditNoteLineItem",
    "radar.early_fraud_warning": "Radar.EarlyFraudWarning", "event": "EventBase",
}
DELETED = {"customer": "DeletedCustomer", "product": "DeletedProduct", "price": "DeletedPrice",
           "plan": "DeletedPlan", "coupon": "DeletedCoupon", "invoice": "DeletedInvoice"}
# payment-method-specific detail and option objects: kept only for cards
PRUNED = re.compile(r"\.(PaymentMethodDetails|PaymentMethodOptions|NextAction)\.(?!Card\b)\w+")
SHARED = {"Address", "Metadata", "Shipping"}
NAMESPACES = ("Event.",)  # EventBase's own sub-objects live in namespace Event

OPEN = re.compile(r"^\s*(?:export )?(?:declare )?(namespace|interface|class) ([\w.]+)(<\w+>)?"
                  r"(?: extends ([\w.]+))?")
ALIAS = re.compile(r"^\s*(?:export )?type (\w+) = (.*);$")
FIELD = re.compile(r"^\s*(?:readonly )?(\w+)(\?)?: (.*)$")
INDEX = re.compile(r"^\s*\[\w+: string\]: (.*);$")


class Registry:
    def __init__(self):
        self.interfaces: dict[str, dict] = {}  # name -> {"fields", "index", "extends", "scope"}
        self.aliases: dict[str, tuple[str, list[str]]] = {}  # name -> (type text, scope)

    def parse(self, text: str, prefix: list[str]) -> None:
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        stack: list[tuple[int, str, str | None]] = []  # (depth inside, kind, qualified name)
        depth = 0
        for line in text.splitlines():
            kinds = [k for _, k, _ in stack]
            inside = stack[-1] if stack else None
            opened = None
            scope = inside[2].split(".") if inside and inside[1] == "namespace" else prefix
            if inside is None or inside[1] == "namespace":
                m = OPEN.match(line)
                a = ALIAS.match(line)
                if m and line.rstrip().endswith("{"):
                    name = ".".join(scope + [m.group(2)])
                    opened = (m.group(1), name)
                    if m.group(1) == "interface":
                        self.interfaces[name] = {"fields": {}, "index": None,
                                                 "extends": m.group(4), "scope": scope}
                elif a:
                    self.aliases[".".join(scope + [a.group(1)])] = (a.group(2), scope)
                elif line.rstrip().endswith("{"):
                    opened = ("other", None)
            elif inside[1] == "interface" and "class" not in kinds:
                iface = self.interfaces[inside[2]]
                f, ix = FIELD.match(line), INDEX.match(line)
                if ix:
                    iface["index"] = ix.group(1)
                elif f and f.group(3).endswith(";"):
                    iface["fields"][f.group(1)] = (f.group(3)[:-1], f.group(2) is None)
                elif f and f.group(3).endswith("{"):
                    iface["fields"][f.group(1)] = ("{}", f.group(2) is None)
                    opened = ("other", None)
            depth += line.count("{") - line.count("}")
            if opened:
                stack.append((depth, opened[0], opened[1]))
            while stack and depth < stack[-1][0]:
                stack.pop()

    def find(self, ref: str, scope: list[str]) -> str | None:
        for i in range(len(scope), -1, -1):
            name = ".".join(scope[:i] + [ref])
            if name in self.interfaces or name in self.aliases:
                return name
        return ref if ref in self.interfaces or ref in self.aliases else None


def split_union(text: str) -> list[str]:
    parts, level, start = [], 0, 0
    for i, ch in enumerate(text):
        level += ch in "<{(" and 1 or (ch in ">})" and -1 or 0)
        if ch == "|" and level == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


class Converter:
    def __init__(self, registry: Registry):
        self.reg = registry
        self.defs: dict[str, dict] = {}
        self.queue: list[str] = []

    def kept(self, name: str) -> bool:
        root = next((r for r in ROOTS if name == r or name.startswith(r + ".")), None)
        ours = root is not None or name in SHARED or name.startswith(NAMESPACES)
        return ours and not PRUNED.search(name)

    def ref(self, name: str) -> dict:
        if not self.kept(name):
            return {}
        if name not in self.defs and name not in self.queue:
            self.queue.append(name)
        return {"$ref": f"#/$defs/{name}"}

    def type_of(self, text: str, scope: list[str]) -> dict:
        nullable, literals, bools, schemas = False, [], [], []
        for part in split_union(text):
            if part == "null":
                nullable = True
            elif part in ("OtherString", "void", "undefined", "never"):
                continue
            elif part[0] == "'":
                literals.append(part.strip("'"))
            elif part in ("true", "false"):
                bools.append(part == "true")
            else:
                schemas.append(self.single(part, scope))
        if literals:
            schemas.append({"type": "string", "enum": sorted(literals)})
        if bools:
            schemas.append({"const": bools[0]} if len(bools) == 1 else {"type": "boolean"})
        if any(s == {} for s in schemas):
            return {}
        if nullable:
            schemas.append({"type": "null"})
        if len(schemas) == 1:
            return schemas[0]
        types = [s.get("type") for s in schemas]
        if all(len(s) == 1 and isinstance(t, str) for s, t in zip(schemas, types)):
            return {"type": types}
        return {"anyOf": schemas}

    def single(self, part: str, scope: list[str]) -> dict:
        simple = {"string": "string", "Decimal": "string", "number": "number",
                  "boolean": "boolean"}
        if part in simple:
            return {"type": simple[part]}
        if part in ("any", "unknown", "{}", "object"):
            return {}
        if part.startswith("Array<") and part.endswith(">"):
            return {"type": "array", "items": self.type_of(part[6:-1], scope)}
        if part.startswith("ApiList<") and part.endswith(">"):
            return self.api_list(self.type_of(part[8:-1], scope))
        if part.startswith("{"):
            m = re.match(r"\{\s*\[\w+: string\]: (.*?);?\s*\}$", part)
            return {"type": "object", "additionalProperties": self.type_of(m.group(1), scope)} if m \
                else {"type": "object"}
        name = self.reg.find(part.removeprefix("Stripe."), scope)
        if name is None:
            return {}
        if name in self.reg.aliases:
            text, alias_scope = self.reg.aliases[name]
            return self.type_of(text, alias_scope)
        return self.ref(name)

    @staticmethod
    def api_list(items: dict) -> dict:
        # Stripe also sends `total_count` on embedded lists (not in its spec)
        return {"type": "object", "additionalProperties": False,
                "required": ["object", "data", "has_more", "url"],
                "properties": {"object": {"const": "list"},
                               "data": {"type": "array", "items": items},
                               "has_more": {"type": "boolean"}, "url": {"type": "string"},
                               "total_count": {"type": "integer"}}}

    def interface(self, name: str) -> dict:
        iface = self.reg.interfaces[name]
        scope = iface["scope"]
        fields = dict(iface["fields"])
        if iface["extends"]:
            parent = self.reg.find(iface["extends"], scope)
            if parent in self.reg.interfaces:
                fields = {**self.reg.interfaces[parent]["fields"], **fields}
        fields = {k: v for k, v in fields.items() if v[0] not in ("void", "undefined")}
        if iface["index"] is not None:
            return {"type": "object", "additionalProperties": self.type_of(iface["index"], scope)}
        if not fields:
            return {"type": "object"}  # declared without fields (event data): anything
        own_scope = scope + [name.split(".")[-1]]
        return {"type": "object", "additionalProperties": False,
                "required": sorted(k for k, (_, req) in fields.items() if req),
                "properties": {k: self.type_of(t, own_scope) for k, (t, _) in sorted(fields.items())}}

    def run(self) -> dict:
        for root in ROOTS:
            self.ref(root)
        while self.queue:
            name = self.queue.pop(0)
            self.defs[name] = self.interface(name)
        return dict(sorted(self.defs.items()))


def python_class(name: str):
    """stripe-python's class for a schema (`Invoice.AutomaticTax` -> stripe.Invoice.AutomaticTax)."""
    import stripe
    parts = name.replace("EventBase", "Event").split(".")
    target = stripe.radar if parts[0] == "Radar" else stripe
    for part in parts[1:] if parts[0] == "Radar" else parts:
        target = getattr(target, part, None)
        if target is None:
            return None
    return target


def integer(schema: dict) -> dict:
    """The schema with JSON `number` narrowed to `integer` (not through $refs)."""
    if isinstance(schema.get("type"), str):
        schema = dict(schema, type="integer" if schema["type"] == "number" else schema["type"])
    elif isinstance(schema.get("type"), list):
        schema = dict(schema, type=["integer" if t == "number" else t for t in schema["type"]])
    if "items" in schema:
        schema = dict(schema, items=integer(schema["items"]))
    if "anyOf" in schema:
        schema = dict(schema, anyOf=[integer(s) for s in schema["anyOf"]])
    return schema


def narrow_integers(defs: dict) -> int:
    """TypeScript says `number` for both; stripe-python (same spec, same API version)
    says `int` or `float`: amounts, counts and timestamps become JSON integers."""
    narrowed = 0
    for name, schema in defs.items():
        cls = python_class(name)
        hints = getattr(cls, "__annotations__", {}) if cls is not None else {}
        for field, prop in schema.get("properties", {}).items():
            hint = str(hints.get(field, ""))
            if "int" in hint.replace("typing", "") and "float" not in hint and "number" in json.dumps(prop):
                schema["properties"][field] = integer(prop)
                narrowed += 1
    return narrowed


def main(package: Path, out: Path) -> None:
    esm = package / "esm"
    api_version = re.search(r"ApiVersion = '([^']+)'", (esm / "apiVersion.js").read_text()).group(1)
    reg = Registry()
    reg.parse((esm / "shared.d.ts").read_text(), [])
    for path in sorted(set(ROOTS.values())):
        reg.parse((esm / path).read_text(), ["Radar"] if "/Radar/" in path else [])
    defs = Converter(reg).run()
    import stripe
    if stripe.api_version != api_version:
        raise SystemExit(f"stripe-python speaks {stripe.api_version}, the npm package {api_version}")
    narrowed = narrow_integers(defs)
    version = json.loads((package / "package.json").read_text())["version"]
    document = {
        "$comment": "Generated by extract.py from stripe-node's type declarations; do not edit.",
        "api_version": api_version, "openapi_release": (package / "OPENAPI_VERSION").read_text().strip(),
        "source": f"npm stripe@{version} (MIT, see LICENSE), generated from github.com/stripe/openapi",
        "objects": OBJECTS, "deleted": DELETED, "$defs": defs,
    }
    out.write_text(json.dumps(document, indent=0, sort_keys=False) + "\n")
    print(f"{len(defs)} schemas for {api_version} -> {out} ({out.stat().st_size // 1024} KB), "
          f"{narrowed} fields narrowed to integer")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).with_name("schemas.json"))
