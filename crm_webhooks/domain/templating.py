"""Hooks' conditions and body templates: Jinja2 in a sandbox, bounded in time and size. No I/O.

A condition is one Jinja expression over ``object`` (the record as sent), ``previous`` (the old
values of what changed) and ``event`` (the event code); a body template is a Jinja template over
the same names plus ``hook``, ``id`` and ``timestamp``.  Both are written by admins, so both are
treated as hostile:

* the sandbox (immutable) refuses underscores and internals: ``object.__class__`` and the like
  raise at once instead of printing as empty text;
* only a list of filters and of methods of text, dicts and lists can be called, and only the
  builtins ``range`` (capped by the sandbox) and ``dict``;
* every operation that can make a value much larger than its operands (``*``, ``**``, ``+``,
  ``%``, ``~``, joining, replacing, padding) is checked before it runs, so no single step
  allocates more than ``MAX_VALUE`` characters, and what one run produces in all is capped by
  ``MAX_WORK``: steps done in C cannot be interrupted, so they must be small;
* each run has a deadline (``CONDITION_SECONDS``, ``TEMPLATE_SECONDS``): Jinja has no step
  limit, so every step a template can repeat passes a checkpoint that reads the clock: each
  iteration of a ``{% for %}``, each call (macros included), filter, test, attribute or key
  read, ``*``, ``**``, ``+``, ``%`` and ``~``, and each ``{{ }}``.  What runs between two
  checkpoints is one bounded operation.
  Tracing (``sys.settrace``) would check every line but made a typical condition about four
  times slower, and clashes with debuggers and coverage; checkpoints cost a clock read each.
  State is per thread: renders in several threads are independent.

A missing key (``previous.stage`` when nothing changed) is Jinja's default Undefined: false,
equal to no value, printed as empty text; doing arithmetic or reading a key of it is an error.
For a dict, ``object.x`` is its key ``x`` even when ``x`` is a dict method's name (``items``);
without that key it is the method (``object.items()``), while ``object["items"]`` is undefined.

Every error at evaluation or rendering is a ``TemplateError`` whose ``message`` says what and on
which line; no other exception comes out of ``matches`` or ``render``.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
from collections.abc import Callable, ItemsView, Iterable, KeysView, Mapping, ValuesView
from types import BuiltinMethodType, TracebackType
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.lexer import describe_token
from jinja2.meta import find_undeclared_variables
from jinja2.parser import Parser
from jinja2.runtime import LoopContext, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment, safe_range

from ..exceptions import ValidationError
from .inputs import at_most, kind, storable
from .messages import N_, Message

CONDITION_NAMES = ("object", "previous", "event")
TEMPLATE_NAMES = ("object", "previous", "event", "hook", "id", "timestamp")
BUILTINS = ("range", "dict")
MAX_CONDITION, MAX_TEMPLATE, MAX_CONTENT_TYPE = 2000, 20000, 200
DEFAULT_CONTENT_TYPE = "application/json"
# A body bigger than this is refused; no value a template makes may be bigger either.
MAX_OUTPUT = 256 * 1024
MAX_VALUE = MAX_OUTPUT
# What one run may produce in all, intermediate values included: bounds memory, not just output.
MAX_WORK = 32 * MAX_OUTPUT
MAX_INT_BITS = 4096
MAX_INDENT = 8
CONDITION_SECONDS, TEMPLATE_SECONDS = 0.05, 0.2
CACHE_SIZE = 512

_TEMPLATE_FILE = "<template>"
# Not a name a template can write (filters are identifiers): what every {% for %} iterates through.
_LOOP = "for-loop"
_MEDIA_TYPE = re.compile(
    r"(?P<type>[!#$%&'*+\-.^_`|~0-9A-Za-z]+)/(?P<subtype>[!#$%&'*+\-.^_`|~0-9A-Za-z]+)"
    r"(?:[ \t]*;[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+=(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|\"[ !#-\[\]-~]*\"))*"
)
_CHARSET = re.compile(r";[ \t]*charset=(?P<name>[^;]+)", re.IGNORECASE)
# A %-format's field with a width or precision: the number (or `*`) decides how much it allocates.
_FORMAT_WIDTH = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|[0-9]+)?(?:\.(\*|[0-9]+))?")


class TemplateError(Exception):
    """A condition or template that cannot be compiled, evaluated or rendered; ``str()`` is English."""

    def __init__(self, message: Message) -> None:
        self.message = message
        super().__init__(str(message))


class _Limit(TemplateError):
    """A value or a run that would be too large, raised where the template's line is still known."""


class _Timeout(BaseException):
    # BaseException: no `except Exception` in a filter may swallow it and let the run go on.
    def __init__(self, seconds: float) -> None:
        self.message = Message(N_("took longer than %(ms)s ms"), {"ms": round(seconds * 1000)})
        super().__init__(str(self.message))


# ---- Bounds of one run ----------------------------------------------------------------------


class _Run(threading.local):
    deadline: float | None = None
    seconds: float = 0.0
    spent: int = 0


_run = _Run()


def _size(value: object, limit: int = MAX_VALUE) -> int:
    """Roughly how many characters ``value`` prints as; stops counting once past ``limit``."""
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset | KeysView | ValuesView | ItemsView):
            # A dict's views print all they show: counted as one opaque value, `"%s" % (view,)`
            # repeated made gigabytes.
            total += 2 + 2 * len(item)
            stack.extend(item)
        else:
            total += 8
        if total > limit:
            break
    return total


def _too_big() -> _Limit:
    return _Limit(Message(N_("a value would be longer than %(limit)s characters"), {"limit": MAX_VALUE}))


def _too_large() -> _Limit:
    return _Limit(Message(N_("a number would have more than %(limit)s bits"), {"limit": MAX_INT_BITS}))


def _tick() -> None:
    """A checkpoint: every step a template can repeat passes one (see the module's docstring)."""
    if _run.deadline is not None and time.perf_counter() > _run.deadline:
        raise _Timeout(_run.seconds)


def _ticking(iterable: Iterable[Any]) -> Iterable[Any]:
    for item in iterable:
        _tick()
        yield item


def _allow(size: int) -> None:
    """Refuses a value of ``size`` characters, and counts it towards the run's work."""
    _tick()
    if size > MAX_VALUE:
        raise _too_big()
    _run.spent += size
    if _run.spent > MAX_WORK:
        raise _Limit(Message(N_("more than %(limit)s characters made in all"), {"limit": MAX_WORK}))


def _produced(value: Any) -> Any:
    _allow(_size(value))
    return value


def _check_arguments(args: Iterable[Any]) -> None:
    if sum(_size(arg) for arg in args) > MAX_VALUE:
        raise _too_big()


def _check_widths(value: object, *args: Any, **kwargs: Any) -> None:
    """A width or a count after the value (padding, batches) allocates that much at once."""
    for arg in (*args, *kwargs.values()):
        if isinstance(arg, int) and arg > MAX_VALUE:
            raise _too_big()


def _check_replace(text: object, old: object, new: object, count: object = -1) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        times = text.count(old) if old else len(text) + 1
        if isinstance(count, int) and count >= 0:
            times = min(times, count)
        if len(text) + times * max(0, len(new) - len(old)) > MAX_VALUE:
            raise _too_big()


def _check_join(separator: object, items: list[Any]) -> None:
    if _size(items) + _size(separator) * len(items) > MAX_VALUE:
        raise _too_big()


def _check_format(text: object, arguments: object = ()) -> None:
    if not isinstance(text, str):
        return
    fields = 0
    for match in _FORMAT_WIDTH.finditer(text):
        fields += 1
        for number in match.groups():
            if number == "*" or (number and int(number) > MAX_VALUE):
                raise _too_big()
    # Every `%(key)s` may name the same value: measuring the mapping once would let a format
    # of many fields over one large value allocate gigabytes in one C call.
    if isinstance(arguments, Mapping) and arguments:
        largest = max(_size(value) for value in arguments.values())
        if len(text) + fields * largest > MAX_VALUE:
            raise _too_big()


def _check_binop(operator: str, left: Any, right: Any) -> None:
    numbers = (int, float)
    if operator == "**":
        if isinstance(left, int) and isinstance(right, int) and max(left.bit_length(), 1) * right > MAX_INT_BITS:
            raise _too_large()
    elif operator == "*":
        if isinstance(left, int) and isinstance(right, int):
            if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise _too_large()
        elif isinstance(left, numbers) or isinstance(right, numbers):
            sequence, times = (right, left) if isinstance(left, numbers) else (left, right)
            if isinstance(times, int) and _size(sequence) * max(times, 0) > MAX_VALUE:
                raise _too_big()
    elif operator == "+":
        if not (isinstance(left, numbers) and isinstance(right, numbers)) and _size(left) + _size(right) > MAX_VALUE:
            raise _too_big()
    elif operator == "%":
        _check_format(left, right)
        _check_arguments([right])


# ---- The sandbox ------------------------------------------------------------------------------


def _ticked(test: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(test)
    def ticked(*args: Any, **kwargs: Any) -> Any:
        _tick()
        return test(*args, **kwargs)

    return ticked


def _guarded_filter(original: Callable[..., Any], check: Callable[..., None] | None = None) -> Callable[..., Any]:
    @functools.wraps(original)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _check_arguments([*args, *kwargs.values()])
        if check is not None:
            check(*args, **kwargs)
        return _produced(original(*args, **kwargs))

    return guarded


def _join_items(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> Any:
        items = list(value)
        _check_join(d, items)
        return _produced(original(eval_ctx, items, d, attribute))

    return join


def _check_filter_replace(eval_ctx: Any, s: object, old: object, new: object, count: object = None) -> None:
    _check_replace(s, old, new, -1 if count is None else count)


def _check_indent(s: object, width: object = 4, first: object = False, blank: object = False) -> None:
    if isinstance(s, str):
        pad = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        if len(s) + (s.count("\n") + 1) * pad > MAX_VALUE:
            raise _too_big()


def _check_sum(environment: Any, iterable: Any, attribute: Any = None, start: Any = 0) -> None:
    # Summing lists is quadratic and done in C, where no deadline reaches.
    if not isinstance(start, int | float):
        raise SecurityError("sum only adds numbers")


def _check_filter_format(value: object, *args: Any, **kwargs: Any) -> None:
    # Jinja's format takes keywords as the mapping, else the positional arguments.
    _check_format(value, kwargs or args)


def _tojson(value: Any, indent: int | None = None) -> str:
    # Jinja's own escapes what HTML would misread (<, >, &, ') and, with its default policy, every
    # accent: valid JSON still, but a body is not HTML, and receivers log and show it as it is.
    if indent is not None and not (isinstance(indent, int) and 0 <= indent <= MAX_INDENT):
        # Each line of the output gets it: a large one makes a huge text in C, before any check.
        raise SecurityError(f"tojson's indent is a number from 0 to {MAX_INDENT}")
    return json.dumps(value, ensure_ascii=False, indent=indent)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_FILTERS = _words(
    "abs attr batch capitalize center count d default dictsort filesizeformat first float format groupby "
    "indent int items join last length list lower map max min reject rejectattr replace reverse round "
    "select selectattr slice sort string sum title tojson trim truncate unique upper urlencode wordcount"
)
_CHECKS: dict[str, Callable[..., None]] = {
    "replace": _check_filter_replace,
    "indent": _check_indent,
    "sum": _check_sum,
    "format": _check_filter_format,
    "center": _check_widths,
    "batch": _check_widths,
    "slice": _check_widths,
    "truncate": _check_widths,
}
_STR_METHODS = _words(
    "capitalize casefold center count endswith find index isalnum isalpha isdecimal isdigit islower "
    "isnumeric isspace istitle isupper join ljust lower lstrip partition removeprefix removesuffix "
    "replace rfind rindex rjust rpartition rsplit rstrip split splitlines startswith strip swapcase "
    "title upper zfill"
)

_DICT_METHODS = frozenset({"get", "keys", "values", "items"})
_LIST_METHODS = frozenset({"count", "index"})


def _safe_method(obj: Any) -> bool:
    if not isinstance(obj, BuiltinMethodType):
        return False
    owner, name = obj.__self__, obj.__name__
    if isinstance(owner, str):
        return name in _STR_METHODS
    if isinstance(owner, dict):
        return name in _DICT_METHODS
    return isinstance(owner, list | tuple) and name in _LIST_METHODS


class _Codegen(CodeGenerator):
    def visit_Concat(self, node: nodes.Concat, frame: Any) -> None:
        # `a ~ b` goes through the environment, like the sandbox's operators, to be measured first.
        self.write("environment.joined((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _Sandbox(ImmutableSandboxedEnvironment):
    code_generator_class = _Codegen
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self) -> None:
        # Not optimized: the optimizer runs filters on constants at compile time, out of the deadline.
        super().__init__(autoescape=False, optimized=False, finalize=_printed, auto_reload=False, cache_size=0)
        self.globals = {"range": safe_range, "dict": dict}
        defaults = self.filters
        self.filters = {name: _guarded_filter(defaults[name], _CHECKS.get(name)) for name in _FILTERS}
        self.filters["join"] = _join_items(defaults["join"])
        self.filters["tojson"] = _guarded_filter(_tojson, None)
        self.filters["d"] = self.filters["default"]
        self.filters[_LOOP] = _ticking
        self.tests = {name: _ticked(test) for name, test in self.tests.items()}

    def joined(self, parts: tuple[Any, ...]) -> str:
        _allow(sum(_size(part) for part in parts))
        return "".join(map(str, parts))

    def concat(self, parts: Iterable[str]) -> str:  # type: ignore[override]
        # Macros, {% set %} and {% filter %} blocks join what their body wrote.
        items = parts if isinstance(parts, list) else list(parts)
        _allow(sum(map(len, items)))
        return "".join(items)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _tick()
        _check_binop(operator, left, right)
        result = super().call_binop(context, operator, left, right)
        return result if isinstance(result, int | float) else _produced(result)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        # The default Undefined would print an escape attempt as empty text: refuse it outright.
        raise _unsafe(obj, attribute)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        _refuse_internal(obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        if not (isinstance(obj, dict) and argument in obj):
            _refuse_internal(obj, argument)
            if isinstance(obj, dict):
                # A subscript is a key: a missing one is undefined, not the dict method of that
                # name (a sale has no "items", and `object["items"]|default([])` must say so).
                return self.undefined(obj=obj, name=argument)
        return super().getitem(obj, argument)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _tick()
        if (
            __obj is safe_range
            or __obj is dict
            or isinstance(__obj, Macro)
            or (isinstance(getattr(__obj, "__self__", None), LoopContext) and __obj.__name__ in ("cycle", "changed"))
        ):
            pass
        elif _safe_method(__obj):
            _check_arguments([__obj.__self__, *args, *kwargs.values()])
            if __obj.__name__ in ("center", "ljust", "rjust", "zfill"):
                _check_widths(__obj.__self__, *args)
            elif __obj.__name__ == "replace":
                _check_replace(__obj.__self__, *args[:3])
            elif __obj.__name__ == "join" and args:
                items = list(args[0])
                _check_join(__obj.__self__, items)
                args = (items,)
        else:
            raise SecurityError(f"{getattr(__obj, '__name__', type(__obj).__name__)!r} cannot be called here")
        return _produced(super().call(__context, __obj, *args, **kwargs))


def _unsafe(obj: Any, name: str) -> SecurityError:
    return SecurityError(f"access to attribute {name!r} of {type(obj).__name__!r} object is unsafe")


def _refuse_internal(obj: Any, name: object) -> None:
    # The sandbox answers `range.__self__` with an Undefined (false, empty): an attempt is refused.
    if isinstance(name, str) and name.startswith("_"):
        raise _unsafe(obj, name)


def _printed(value: Any) -> Any:
    """What ``{{ }}`` prints is measured before it becomes text."""
    _allow(_size(value))
    return value


_ENV = _Sandbox()


# ---- Running under a deadline -----------------------------------------------------------------


def _error_line(tb: TracebackType | None, source: Any) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _TEMPLATE_FILE:
            line = source.get_corresponding_lineno(tb.tb_lineno)
        tb = tb.tb_next
    return line


def _run_bounded(source: Any, seconds: float, work: Callable[[], Any]) -> Any:
    """``work()`` under a deadline and a fresh work budget; any failure becomes a TemplateError."""
    _run.deadline, _run.seconds, _run.spent = time.perf_counter() + seconds, seconds, 0
    try:
        return work()
    except (_Timeout, _Limit) as exc:
        raise TemplateError(_at(_error_line(exc.__traceback__, source), exc.message)) from None
    except TemplateError:
        raise
    except Exception as exc:  # a hostile template can raise anything: it must come out as one error
        reason = Message.verbatim(f"{type(exc).__name__}: {exc}"[:300])
        raise TemplateError(_at(_error_line(exc.__traceback__, source), reason)) from None
    finally:
        _run.deadline = None


def _at(line: int | None, reason: Message) -> Message:
    if line is None:
        return reason
    return Message(N_("line %(line)s: %(reason)s"), {"line": line, "reason": reason})


# ---- Compiling ----------------------------------------------------------------------------------


def _syntax(exc: Exception) -> TemplateError:
    if isinstance(exc, TemplateSyntaxError):
        return TemplateError(_at(exc.lineno, Message.verbatim(exc.message or str(exc))))
    # Python's own limits (nesting, recursion) on what Jinja generated
    return TemplateError(Message(N_("too complex to compile: %(error)s"), {"error": f"{type(exc).__name__}: {exc}"}))


def _refuse_unknown(names: Iterable[str], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(names) - set(allowed) - set(BUILTINS))
    if unknown:
        raise TemplateError(
            Message(
                N_("unknown name %(names)s (available: %(allowed)s)"),
                {"names": ", ".join(unknown), "allowed": ", ".join(allowed)},
            )
        )


def _refuse_other_templates(tree: nodes.Template) -> None:
    # A body template stands alone: there is nothing to extend, include or import.
    found = tree.find(nodes.Extends | nodes.Include | nodes.Import | nodes.FromImport)  # type: ignore[arg-type]
    if found is not None:
        raise TemplateError(
            _at(
                found.lineno,
                Message(N_("%(tag)s is not available in a body template"), {"tag": type(found).__name__.lower()}),
            )
        )


class Condition:
    """A compiled condition; ``matches`` says whether an event is to be delivered."""

    def __init__(self, text: str) -> None:
        try:
            parser = Parser(_ENV, text, state="variable")
            expression = parser.parse_expression()
            if not parser.stream.eos:
                extra = parser.stream.current
                raise TemplateSyntaxError(
                    f"unexpected {describe_token(extra)!r}: a condition is one expression", extra.lineno
                )
            # An expression declares nothing: every name it reads comes from outside.  Walking the
            # tree recurses as deep as it is: a long flat `1+1+...` is a deep tree.
            _refuse_unknown((n.name for n in expression.find_all(nodes.Name)), CONDITION_NAMES)
            tree = nodes.Template([nodes.Assign(nodes.Name("result", "store"), expression)], lineno=1)
            tree.set_environment(_ENV)
            self._template = _ENV.from_string(tree)
        except (TemplateSyntaxError, SyntaxError, RecursionError, MemoryError) as exc:
            raise _syntax(exc) from None
        self.text = text

    def matches(self, object: Mapping[str, Any], previous: Mapping[str, Any], event: str) -> bool:
        template = self._template

        def evaluate() -> bool:
            # Shared: the globals come in the one dict instead of a merge of three mappings per call,
            # which was half of an evaluation's cost (a fan-out makes one per event and hook).
            context = template.new_context(
                {**_ENV.globals, "object": object, "previous": previous, "event": event}, shared=True
            )
            for _ in template.root_render_func(context):
                pass
            return bool(context.vars["result"])

        return _run_bounded(template, CONDITION_SECONDS, evaluate)


class BodyTemplate:
    """A compiled body template; ``render`` gives the body's bytes."""

    def __init__(self, text: str) -> None:
        try:
            tree = _ENV.parse(text)
            _refuse_unknown(find_undeclared_variables(tree), TEMPLATE_NAMES)
            _refuse_other_templates(tree)
            for loop in tree.find_all(nodes.For):
                loop.iter = nodes.Filter(loop.iter, _LOOP, [], [], None, None, lineno=loop.lineno)
            self._template = _ENV.from_string(tree)
        except (TemplateSyntaxError, SyntaxError, RecursionError, MemoryError) as exc:
            raise _syntax(exc) from None
        self.text = text

    def render(self, variables: Mapping[str, Any], content_type: str = DEFAULT_CONTENT_TYPE) -> bytes:
        template = self._template

        def produce() -> str:
            chunks: list[str] = []
            length = 0
            for chunk in template.root_render_func(template.new_context(dict(variables))):
                length += len(chunk)
                if length > MAX_OUTPUT:
                    raise _Limit(
                        Message(N_("the body would be longer than %(limit)s characters"), {"limit": MAX_OUTPUT})
                    )
                chunks.append(chunk)
            return "".join(chunks)

        text = _run_bounded(template, TEMPLATE_SECONDS, produce)
        if is_json(content_type):
            _check_json(text)
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            # `"%c" % 55296` makes half a surrogate pair, which no UTF-8 body can carry.
            raise TemplateError(Message(N_("not valid Unicode text (a lone surrogate)"))) from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check_json(text: str) -> None:
    try:
        json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise TemplateError(
            Message(
                N_("the body is not valid JSON: line %(line)s, column %(column)s: %(error)s"),
                {"line": exc.lineno, "column": exc.colno, "error": exc.msg},
            )
        ) from None
    except (ValueError, RecursionError) as exc:
        raise TemplateError(Message(N_("the body is not valid JSON: %(error)s"), {"error": str(exc)})) from None


@functools.lru_cache(maxsize=CACHE_SIZE)
def _compiled(kind: type[Condition | BodyTemplate], text: str) -> Condition | BodyTemplate | Message:
    # A text that does not compile is remembered too: a stored one would otherwise be compiled
    # again for every event of a fan-out.
    try:
        return kind(text)
    except TemplateError as exc:
        return exc.message


def _compile(kind: type[Any], text: str) -> Any:
    found = _compiled(kind, text)
    if isinstance(found, Message):
        raise TemplateError(found)
    return found


def condition(text: str) -> Condition:
    """The compiled condition for ``text``, compiled once per text; TemplateError if it is not one."""
    return _compile(Condition, text)


def template(text: str) -> BodyTemplate:
    """The compiled body template for ``text``, compiled once per text; TemplateError if it is not one."""
    return _compile(BodyTemplate, text)


# ---- Validating what is saved ---------------------------------------------------------------------


def _optional_text(field: str, value: object, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(field, kind(value))
    return at_most(field, storable(field, value).strip(), limit) or None


def validate_condition(value: object) -> str | None:
    """The condition's text, stripped, or None for no condition; ValidationError on "condition"."""
    text = _optional_text("condition", value, MAX_CONDITION)
    if text is not None:
        try:
            condition(text)
        except TemplateError as exc:
            raise ValidationError("condition", exc.message) from None
    return text


def validate_content_type(value: object) -> str:
    """A media type (``type/subtype`` and parameters), ``application/json`` when none is given."""
    text = _optional_text("content_type", value, MAX_CONTENT_TYPE)
    if text is None:
        return DEFAULT_CONTENT_TYPE
    if not _MEDIA_TYPE.fullmatch(text):
        raise ValidationError(
            "content_type", N_("%(value)s is not a media type (e.g. application/json)"), value=repr(text[:40])
        )
    charset = _CHARSET.search(text)
    if charset and charset["name"].strip('"').lower() not in ("utf-8", "utf8"):
        # The body is always encoded as UTF-8: a receiver told otherwise would read é as Ã©.
        raise ValidationError(
            "content_type", N_("the body is sent as UTF-8: charset=%(charset)s cannot be"), charset=charset["name"]
        )
    return text


def validate_body_template(value: object, content_type: object) -> tuple[str | None, str]:
    """The body template (None: the standard envelope) and its content type; all errors at once.

    The template is compiled, not rendered: whether its output is valid JSON depends on the
    record (a branch, a missing key), and an empty or sample record would both refuse good
    templates and pass bad ones.  Rendering errors come with each delivery, naming the line.
    """
    errors: list[ValidationError] = []
    text = media = None
    try:
        text = _optional_text("body_template", value, MAX_TEMPLATE)
        if text is not None:
            template(text)
    except ValidationError as exc:
        errors.append(exc)
    except TemplateError as exc:
        errors.append(ValidationError("body_template", exc.message))
    try:
        media = validate_content_type(content_type)
    except ValidationError as exc:
        errors.append(exc)
    if errors:
        raise ValidationError.of(e for exc in errors for e in exc.errors)
    return text, media  # type: ignore[return-value]


def is_json(content_type: str) -> bool:
    """``application/json`` or any ``*/*+json``, with or without parameters."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


# ---- Ready-made bodies ------------------------------------------------------------------------------

# A chat message (Slack, Teams and Discord-style incoming webhooks take {"text": ...}).
CHAT_MESSAGE = (
    '{"text": {{ ("[" ~ event ~ "] " ~ (object.name or object.title or ("#" ~ object.id))'
    ' ~ (" (" ~ object.stage ~ ")" if object.stage else "")) | tojson }}}'
)
# A point-of-sale system's flat sale: customer, value and the items' names.
FLAT_SALE = """{
  "cliente": {{ (object.client_name or object.client_id) | tojson }},
  "valor": {{ object.amount | float | tojson }},
  "itens": {{ object["items"] | default([]) | map(attribute="name") | list | tojson }},
  "evento": {{ event | tojson }},
  "id": {{ id | tojson }}
}"""
