# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled fast path: check and build a CAP 1.2 alert that breaks no rule, off libxml2's tree.

``fast_alert(root)`` reads the XSD-valid CAP 1.2 tree through lxml's public C API (libxml2
nodes, no Python element proxies) and returns what ``check_alert`` and ``build_alert`` would:
the ``CapAlert`` and the rules' warnings (empty optional elements, an effective/onset before
``sent``...), each with the same message, path and line. On anything else -- a rule that would
report an error, an element holding more than text, a line past 65,534, a value the model
cannot convert -- it returns ``None`` and ``parse()`` runs the Python rules, which stay the one
definition of every error. The fast path never decides that an alert is bad, it only
recognises good ones: a miss costs speed, never correctness.

The value checks that are more than a comparison (polygons, circles, altitude/ceiling,
resources, dateTimes, references) call the same Python functions the rules call. A differential
test compares both paths on every sample and thousands of mutations of them.
"""

from cpython.object cimport PyObject, PyTypeObject
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.string cimport strcmp, strlen
from lxml.includes cimport tree
from lxml.includes.tree cimport xmlNode
cimport lxml.includes.etreepublic as cetree

from lxml import etree  # noqa: F401  (the C API below is imported from this module)

from alerts.cap import build as _b
from alerts.cap.model import (
    Area, CapAlert, Category, Certainty, Info, MsgType, NamedValue, Reference, Resource,
    ResponseType, Scope, Severity, Status, Urgency,
)
from alerts.cap.result import Issue
from alerts.cap.rules import _FORBIDDEN_ID_CHARS, _NEEDS_REFERENCES, _OPTIONAL_TEXT
from alerts.cap.rules_area import altitude_problems, circle_problems, polygon_problems
from alerts.cap.rules_info import _LANGTAG, resource_problems
from alerts.cap.values import parse_datetime, parse_reference

from decimal import Decimal

cetree.import_lxml__etree()

cdef extern from "structmember.h":
    ctypedef struct PyMemberDef:
        int type
        Py_ssize_t offset
        int flags
    int PyMember_SetOne(char* obj, PyMemberDef* member, PyObject* value) except -1
    int T_OBJECT_EX
    int READONLY

cdef extern from *:
    """
    /* 1 when a byte of p[0:n] is outside the base64 alphabet and XML whitespace: 16 bytes a
       step with SSE2 (every x86-64 CPU), one at a time elsewhere and for the tail. */
    #if defined(__SSE2__)
    #include <emmintrin.h>
    static inline __m128i _b64_in(__m128i v, char lo, char span) {
        __m128i shifted = _mm_sub_epi8(v, _mm_set1_epi8(lo));
        return _mm_cmpeq_epi8(_mm_subs_epu8(shifted, _mm_set1_epi8(span)), _mm_setzero_si128());
    }
    #endif
    static int _b64_invalid(const unsigned char *p, Py_ssize_t n) {
        Py_ssize_t i = 0;
        unsigned char bad = 0;
    #if defined(__SSE2__)
        __m128i all_ok = _mm_set1_epi8((char)0xFF);
        for (; i + 16 <= n; i += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
            __m128i ok = _mm_or_si128(_b64_in(v, 'A', 25), _b64_in(v, 'a', 25));
            ok = _mm_or_si128(ok, _b64_in(v, '0', 9));
            ok = _mm_or_si128(ok, _b64_in(v, 9, 1));  /* tab, newline */
            ok = _mm_or_si128(ok, _mm_cmpeq_epi8(v, _mm_set1_epi8('+')));
            ok = _mm_or_si128(ok, _mm_cmpeq_epi8(v, _mm_set1_epi8('/')));
            ok = _mm_or_si128(ok, _mm_cmpeq_epi8(v, _mm_set1_epi8(' ')));
            ok = _mm_or_si128(ok, _mm_cmpeq_epi8(v, _mm_set1_epi8(13)));
            all_ok = _mm_and_si128(all_ok, ok);
        }
        if (_mm_movemask_epi8(all_ok) != 0xFFFF) return 1;
    #endif
        for (; i < n; i++) {
            unsigned char c = p[i];
            int ok = ((unsigned char)(c - 'A') < 26) || ((unsigned char)(c - 'a') < 26)
                || ((unsigned char)(c - '0') < 10) || c == '+' || c == '/' || c == 32
                || c == 9 || c == 10 || c == 13;
            bad |= !ok;
        }
        return bad != 0;
    }
    """
    int _b64_invalid(const unsigned char* p, Py_ssize_t n)

cdef extern from *:
    """
    #include <math.h>
    /* Sign of the orientation of (a, b, c): 1 left turn, -1 right turn, 0 collinear or too
       close to call in doubles (Shewchuk's orient2d filter bound: beyond it the sign is exact). */
    static int _orient(double ax, double ay, double bx, double by, double cx, double cy) {
        double left = (bx - ax) * (cy - ay);
        double right = (by - ay) * (cx - ax);
        double det = left - right;
        double bound = 3.3306690738754716e-16 * (fabs(left) + fabs(right));
        if (det > bound) return 1;
        if (-det > bound) return -1;
        return 0;
    }
    """
    int _orient(double ax, double ay, double bx, double by, double cx, double cy)

cdef extern from "Python.h":
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member
    object PyType_GenericAlloc(PyTypeObject* cls, Py_ssize_t n)

cdef bytes CAP12 = b"urn:oasis:names:tc:emergency:cap:1.2"
cdef const char* CAP12_C = CAP12

cdef dict _NAMES = {
    name.encode(): name
    for name in (
        "identifier", "sender", "sent", "status", "msgType", "source", "scope", "restriction",
        "addresses", "code", "note", "references", "incidents", "info", "language", "category",
        "event", "responseType", "urgency", "severity", "certainty", "audience", "eventCode",
        "effective", "onset", "expires", "senderName", "headline", "description", "instruction",
        "web", "contact", "parameter", "resource", "resourceDesc", "mimeType", "size", "uri",
        "derefUri", "digest", "area", "areaDesc", "polygon", "circle", "geocode", "altitude",
        "ceiling", "valueName", "value",
    )
}
cdef tuple _TIMES = ("effective", "onset", "expires")
# value -> member, as build's converters (a value they refuse is a miss: build's error speaks)
cdef dict _STATUS = {m.value: m for m in Status}
cdef dict _MSG_TYPE = {m.value: m for m in MsgType}
cdef dict _SCOPE = {m.value: m for m in Scope}
cdef dict _CATEGORY = {m.value: m for m in Category}
cdef dict _RESPONSE_TYPE = {m.value: m for m in ResponseType}
cdef dict _URGENCY = {m.value: m for m in Urgency}
cdef dict _SEVERITY = {m.value: m for m in Severity}
cdef dict _CERTAINTY = {m.value: m for m in Certainty}


cdef inline object _member(dict members, str value):
    """``build._lookup``'s conversion: the member for the stripped value."""
    found = members.get(value.strip())
    if found is None:
        raise _Miss()
    return found


cdef class _Maker:
    """Builds a frozen slots dataclass by filling its slots (what its ``__init__`` does, less
    the per-field ``object.__setattr__`` calls that dominate building the model)."""

    cdef object cls
    cdef list members  # the member descriptors, in field order (kept alive here)
    cdef PyMemberDef* defs[32]
    cdef Py_ssize_t n

    def __init__(self, cls):
        from dataclasses import fields

        names = [f.name for f in fields(cls)]
        if len(names) > 32 or cls.__init__ is object.__init__:
            raise TypeError(f"{cls.__name__}: unexpected shape")
        self.cls = cls
        self.members = [cls.__dict__[name] for name in names]
        self.n = len(names)
        for i, descr in enumerate(self.members):
            if type(descr).__name__ != "member_descriptor":
                raise TypeError(f"{cls.__name__}.{names[i]} is not a slot")
            self.defs[i] = (<PyMemberDescrObject*>descr).d_member
            if self.defs[i].type != T_OBJECT_EX or self.defs[i].flags & READONLY:
                raise TypeError(f"{cls.__name__}.{names[i]} is not a plain object slot")

    cdef object make(self, tuple values):
        """A new instance with ``values`` in field order (all of them)."""
        cdef Py_ssize_t i
        if len(values) != self.n:
            raise TypeError("wrong number of fields")
        obj = PyType_GenericAlloc(<PyTypeObject*>self.cls, 0)
        for i in range(self.n):
            PyMember_SetOne(<char*><PyObject*>obj, self.defs[i], <PyObject*>values[i])
        return obj


cdef _Maker _ALERT = _Maker(CapAlert)
cdef _Maker _INFO = _Maker(Info)
cdef _Maker _AREA = _Maker(Area)
cdef _Maker _RESOURCE = _Maker(Resource)
cdef _Maker _PAIR = _Maker(NamedValue)
cdef _Maker _REFERENCE = _Maker(Reference)


class _Miss(Exception):
    """The alert is not plainly good: let the Python rules speak."""


cdef inline str _decode(const tree.xmlChar* content):
    """A libxml2 UTF-8 string as ``str``."""
    if content is NULL:
        return ""
    return PyUnicode_DecodeUTF8(<const char*>content, strlen(<const char*>content), NULL)


cdef str _text(xmlNode* el):
    """The element's text as lxml's ``el.text or ''``, for elements holding only text."""
    cdef xmlNode* c = el.children
    if c is NULL:
        return ""
    if c.next is NULL and (c.type == tree.XML_TEXT_NODE or c.type == tree.XML_CDATA_SECTION_NODE):
        return _decode(c.content)
    parts = []
    while c is not NULL:
        if c.type != tree.XML_TEXT_NODE and c.type != tree.XML_CDATA_SECTION_NODE:
            raise _Miss()  # a comment, PI or child element inside a value: the slow path decides
        parts.append(_decode(c.content))
        c = c.next
    return "".join(parts)


cdef str _name(xmlNode* c):
    """The CAP 1.2 local name of an element node; None for anything else (skipped, as lxml)."""
    if c.type != tree.XML_ELEMENT_NODE or c.ns is NULL or strcmp(<const char*>c.ns.href, CAP12_C) != 0:
        return None
    return _NAMES.get(<bytes><const char*>c.name)


cdef tuple _pair(xmlNode* el):
    """``(valueName, value)`` of an eventCode/parameter/geocode."""
    cdef xmlNode* c = el.children
    name = value = ""
    while c is not NULL:
        local = _name(c)
        if local == "valueName":
            name = _text(c)
        elif local == "value":
            value = _text(c)
        c = c.next
    return (name, value)


cdef class _Doc:
    """Per-document memos, as the Python path's ``KidsCache`` keeps them."""

    cdef dict dates
    cdef dict polygons

    def __cinit__(self):
        self.dates = {}
        self.polygons = {}

    cdef object date(self, str value):
        """``parse_datetime`` once per distinct text; a miss when it is not a CAP dateTime."""
        found = self.dates.get(value)
        if found is None:
            found = parse_datetime(value)
            if found is None:
                raise _Miss()
            self.dates[value] = found
        return found


cdef bint _same_tag(xmlNode* a, xmlNode* b):
    """Same local name and namespace (what lxml's tag comparison decides)."""
    if strcmp(<const char*>a.name, <const char*>b.name) != 0:
        return False
    if a.ns is NULL or b.ns is NULL:
        return a.ns is b.ns
    return strcmp(<const char*>a.ns.href, <const char*>b.ns.href) == 0


cdef str _path(xmlNode* el):
    """``paths.element_path``: local names with 1-based indexes among same-tag siblings."""
    cdef xmlNode* node = el
    cdef xmlNode* sibling
    cdef int index
    parts = []
    while node is not NULL and node.type == tree.XML_ELEMENT_NODE:
        name = _decode(node.name)
        if node.parent is NULL or node.parent.type != tree.XML_ELEMENT_NODE:
            parts.append(name)
        else:
            index = 1
            sibling = node.prev
            while sibling is not NULL:
                if sibling.type == tree.XML_ELEMENT_NODE and _same_tag(sibling, node):
                    index += 1
                sibling = sibling.prev
            parts.append(f"{name}[{index}]")
        node = node.parent
    return "/" + "/".join(reversed(parts))


cdef object _warning(str rule, str message, xmlNode* el):
    """``issue_at(rule, message, el, "warning")`` off the C node."""
    if el.line >= 65535:
        raise _Miss()  # libxml2 keeps longer line numbers elsewhere; let lxml read them
    return Issue(rule, message, _path(el), el.line or None, "warning")


cdef xmlNode* _find(xmlNode* parent, str name):
    """The first CAP child called ``name`` (warnings only: the happy path never looks twice)."""
    cdef xmlNode* c = parent.children
    while c is not NULL:
        if _name(c) == name:
            return c
        c = c.next
    raise _Miss()


def fast_alert(cetree._Element root):
    """``(alert, warnings)`` for an XSD-valid CAP 1.2 tree with no rule error, else None."""
    warnings = []
    try:
        return _alert(root._c_node, _Doc(), warnings), warnings
    except (_Miss, ValueError, ArithmeticError):
        return None


cdef object _alert(xmlNode* el, _Doc doc, list warnings):
    """Alert-level rules, then every info; the model when no error."""
    cdef xmlNode* c = el.children
    cdef xmlNode* first_info = NULL
    cdef dict t = {}
    codes = []
    while c is not NULL:
        local = _name(c)
        if local is not None:
            if local == "info":
                first_info = c
                break
            if local == "code":
                codes.append(_text(c))
            elif local not in t:
                t[local] = _text(c)
        c = c.next
    identifier = t.get("identifier")
    sender = t.get("sender")
    for value in (identifier, sender):
        if value is not None and (not value or _FORBIDDEN_ID_CHARS.search(value)):
            raise _Miss()
    sent_text = t.get("sent")
    if sent_text is None:
        raise _Miss()
    sent = doc.date(sent_text)
    msg_type = t.get("msgType")
    references_text = t.get("references")
    references = _references(references_text, msg_type, sender, identifier)
    if references is None:
        msg = "<references> is present but empty"
        warnings.append(_warning("CAP-EMPTY-ELEMENT", msg, _find(el, "references")))
        references = ()
    scope = t.get("scope")
    restriction = t.get("restriction")
    if restriction is not None and restriction.strip():
        if scope != "Restricted":
            raise _Miss()
    elif scope == "Restricted":
        raise _Miss()
    if scope == "Private" and not (t.get("addresses") or "").strip():
        raise _Miss()
    for name in _OPTIONAL_TEXT:
        value = t.get(name)
        if value is not None and not value.strip():
            msg = f"<{name}> is present but empty"
            warnings.append(_warning("CAP-EMPTY-ELEMENT", msg, _find(el, name)))
    infos = []
    if first_info is NULL and msg_type in ("Alert", "Update"):
        msg = "Alert/Update without <info>: recipients get nothing to read"
        warnings.append(_warning("CAP-INFO-MISSING", msg, el))
    c = first_info
    while c is not NULL:
        if _name(c) == "info":
            infos.append(_info(c, doc, sent, warnings))
        c = c.next
    return _ALERT.make((
        identifier or "",
        sender or "",
        sent,
        _member(_STATUS, t.get("status") or ""),
        _member(_MSG_TYPE, msg_type or ""),
        _member(_SCOPE, scope or ""),
        t.get("source"),
        restriction,
        t.get("addresses"),
        tuple(codes),
        t.get("note"),
        references,
        references_text,
        t.get("incidents"),
        tuple(infos),
    ))


cdef object _references(str value, str msg_type, str sender, str identifier):
    """Parsed triplets when ``<references>`` breaks no rule; None when it is empty (a warning)."""
    if value is None:
        if msg_type in _NEEDS_REFERENCES:
            raise _Miss()
        return ()
    tokens = value.split()
    if not tokens:
        if msg_type in _NEEDS_REFERENCES:
            raise _Miss()
        return None
    out = []
    for token in tokens:
        parsed = parse_reference(token)
        if parsed is None or (parsed[0] == sender and parsed[1] == identifier):
            raise _Miss()
        out.append(_REFERENCE.make(parsed))
    return tuple(out)


cdef object _info(xmlNode* el, _Doc doc, object sent, list warnings):
    """One ``<info>``: language, timing, resources, areas; its model."""
    cdef xmlNode* c = el.children
    cdef dict t = {}
    categories = []
    response_types = []
    event_codes = []
    parameters = []
    resources = []
    areas = []
    later = []  # resource and area warnings come after the timing ones, as in check_info
    while c is not NULL:
        local = _name(c)
        if local is not None:
            if local == "category":
                categories.append(_member(_CATEGORY, _text(c)))
            elif local == "responseType":
                response_types.append(_member(_RESPONSE_TYPE, _text(c)))
            elif local == "eventCode":
                event_codes.append(_PAIR.make(_pair(c)))
            elif local == "parameter":
                parameters.append(_PAIR.make(_pair(c)))
            elif local == "resource":
                resources.append(_resource(c, later))
            elif local == "area":
                areas.append(_area(c, doc, later))
            elif local not in t:
                t[local] = _text(c)
        c = c.next
    language = t.get("language")
    if language is not None and not _LANGTAG.match(language.strip()):
        raise _Miss()
    times = {}
    for name in _TIMES:
        value = t.get(name)
        if value is not None:
            times[name] = doc.date(value)
    expires = times.get("expires")
    for name in ("effective", "onset"):
        value = times.get(name)
        if value is None:
            continue
        if value < sent:
            msg = f"<{name}> {t[name]} is before <sent>"
            warnings.append(_warning(f"CAP-{name.upper()}-BEFORE-SENT", msg, _find(el, name)))
        if expires is not None and expires < value:
            raise _Miss()
    if expires is not None and expires < sent:
        raise _Miss()
    warnings += later
    return _INFO.make((
        (language or _b.DEFAULT_LANGUAGE).strip(),
        tuple(categories),
        t.get("event") or "",
        _member(_URGENCY, t.get("urgency") or ""),
        _member(_SEVERITY, t.get("severity") or ""),
        _member(_CERTAINTY, t.get("certainty") or ""),
        tuple(response_types),
        t.get("audience"),
        tuple(event_codes),
        times.get("effective"),
        times.get("onset"),
        expires,
        t.get("senderName"),
        t.get("headline"),
        t.get("description"),
        t.get("instruction"),
        t.get("web"),
        t.get("contact"),
        tuple(parameters),
        tuple(resources),
        tuple(areas),
    ))


cdef int _base64(xmlNode* el):
    """``rules_info.is_base64`` on the element's single text node: 1 yes, 0 no, -1 not known.

    The padding is read off the end; everything before it must be alphabet or whitespace, checked
    in one branch-free pass the compiler vectorises (derefUri payloads run to hundreds of
    kilobytes; the Python check costs a copy and a ``translate`` per chunk).
    """
    cdef xmlNode* c = el.children
    cdef const unsigned char* p
    cdef Py_ssize_t n, end, padding
    if c is NULL or c.next is not NULL or c.content is NULL:
        return -1
    if c.type != tree.XML_TEXT_NODE and c.type != tree.XML_CDATA_SECTION_NODE:
        return -1
    p = <const unsigned char*>c.content
    n = <Py_ssize_t>strlen(<const char*>p)
    end = n
    while end > 0 and (p[end - 1] == 32 or p[end - 1] == 9 or p[end - 1] == 13 or p[end - 1] == 10):
        end -= 1
    if end >= 3 and p[end - 1] == 61 and p[end - 2] == 61 and p[end - 3] == 61:
        return 0
    padding = 2 if end >= 2 and p[end - 1] == 61 and p[end - 2] == 61 else (1 if end >= 1 and p[end - 1] == 61 else 0)
    if end == padding:
        return 0
    return 0 if _b64_invalid(p, end - padding) else 1


cdef object _resource(xmlNode* el, list warnings):
    """One ``<resource>`` with no error (a digest that is not SHA-1 is a warning)."""
    cdef xmlNode* c = el.children
    cdef xmlNode* deref = NULL
    cdef dict t = {}
    cdef int verdict
    while c is not NULL:
        local = _name(c)
        if local is not None and local not in t:
            t[local] = _text(c)
            if local == "derefUri":
                deref = c
        c = c.next
    checked = t
    if deref is not NULL:
        verdict = _base64(deref)
        if verdict == 0:
            raise _Miss()
        if verdict == 1:  # known good: the shared rules need not scan it again
            checked = dict(t)
            checked["derefUri"] = "AA=="
    for rule, name, msg, severity in resource_problems(checked):
        if severity != "warning":
            raise _Miss()
        warnings.append(_warning(rule, msg, _find(el, name)))
    size = t.get("size")
    return _RESOURCE.make((
        t.get("resourceDesc") or "",
        (t.get("mimeType") or "").strip(),
        None if size is None else int(size.strip()),
        t.get("uri"),
        t.get("derefUri"),
        t.get("digest"),
    ))


cdef object _area(xmlNode* el, _Doc doc, list warnings):
    """One ``<area>`` with no error (polygon verdicts memoised per document)."""
    cdef xmlNode* c = el.children
    cdef dict t = {}
    polygons = []
    circles = []
    geocodes = []
    while c is not NULL:
        local = _name(c)
        if local is not None:
            if local == "polygon":
                raw = _text(c)
                problems = doc.polygons.get(raw)
                if problems is None:
                    if not raw.strip():
                        warnings.append(_warning("CAP-EMPTY-ELEMENT", "empty <polygon> ignored", c))
                        c = c.next
                        continue
                    problems = doc.polygons[raw] = polygon_problems(raw, plainly_simple)
                if problems:
                    raise _Miss()
                polygons.append(raw)
            elif local == "circle":
                raw = _text(c)
                for rule, msg, severity in circle_problems(raw):
                    if severity != "warning":
                        raise _Miss()
                    warnings.append(_warning(rule, msg, c))
                if raw.strip():
                    circles.append(raw)
            elif local == "geocode":
                geocodes.append(_PAIR.make(_pair(c)))
            elif local not in t:
                t[local] = _text(c)
        c = c.next
    altitude = t.get("altitude")
    ceiling = t.get("ceiling")
    if altitude is not None or ceiling is not None:
        if altitude_problems(altitude, ceiling):
            raise _Miss()
    return _AREA.make((
        t.get("areaDesc") or "",
        tuple(polygons),
        tuple(circles),
        tuple(geocodes),
        None if altitude is None else Decimal(altitude.strip()),
        None if ceiling is None else Decimal(ceiling.strip()),
    ))


def adopt_namespace(cetree._Element root, str old):
    """Move every element below ``root`` in namespace ``old`` into ``root``'s namespace.

    What ``el.tag = new_ns + local`` does for each element (once the root's tag is set, lxml
    finds the root's declaration in scope and points the element at it), without building a
    proxy per element. Attributes keep their namespaces, as with the Python loop.
    """
    cdef xmlNode* top = root._c_node
    cdef tree.xmlNs* ns = top.ns
    cdef xmlNode* node = top.children
    cdef bytes old_b = old.encode()
    cdef const char* old_c = old_b
    if ns is NULL:
        raise ValueError("the root element has no namespace")
    while node is not NULL and node is not top:
        if node.type == tree.XML_ELEMENT_NODE:
            if node.ns is not NULL and strcmp(<const char*>node.ns.href, old_c) == 0:
                node.ns = ns
            if node.children is not NULL:
                node = node.children
                continue
        while node.next is NULL:
            node = node.parent
            if node is top:
                return
        node = node.next


DEF _MAX_RING = 256


def plainly_simple(list values):
    """True when the closed ring ``values`` (lat, lon, lat, lon...) is certainly a valid polygon.

    Every pair of edges is tested with exact-sign orientation (an uncertain sign counts as a
    touch): no edges cross or touch except neighbours at their shared vertex, neighbours are
    not collinear, no point repeats its predecessor. Such a ring is simple with a positive area,
    which GEOS also calls valid. False means "ask GEOS", not "invalid": rings longer than
    256 points, repeated points and anything degenerate go to GEOS, which names the reason.
    """
    cdef double xs[_MAX_RING + 1]
    cdef double ys[_MAX_RING + 1]
    cdef Py_ssize_t n = len(values) // 2
    cdef Py_ssize_t m = n - 1
    cdef Py_ssize_t i, j
    cdef double ax, ay, bx, by, cx, cy, dx, dy
    cdef int o1, o2
    if m < 3 or m > _MAX_RING or len(values) != 2 * n:
        return False
    for i in range(n):
        ys[i] = values[2 * i]
        xs[i] = values[2 * i + 1]
    if xs[0] != xs[m] or ys[0] != ys[m]:
        return False
    for i in range(m):
        if xs[i] == xs[i + 1] and ys[i] == ys[i + 1]:
            return False
        # neighbours meet at one point only when they are not collinear (xs[m] is xs[0])
        if i + 2 <= m and _orient(xs[i], ys[i], xs[i + 1], ys[i + 1], xs[i + 2], ys[i + 2]) == 0:
            return False
    if _orient(xs[m - 1], ys[m - 1], xs[0], ys[0], xs[1], ys[1]) == 0:
        return False
    for i in range(m):
        ax, ay, bx, by = xs[i], ys[i], xs[i + 1], ys[i + 1]
        for j in range(i + 2, m):
            if i == 0 and j == m - 1:
                continue  # the closing edge neighbours the first one
            cx, cy, dx, dy = xs[j], ys[j], xs[j + 1], ys[j + 1]
            if (max(ax, bx) < min(cx, dx) or max(cx, dx) < min(ax, bx)
                    or max(ay, by) < min(cy, dy) or max(cy, dy) < min(ay, by)):
                continue
            o1 = _orient(ax, ay, bx, by, cx, cy)
            o2 = _orient(ax, ay, bx, by, dx, dy)
            if o1 == 0 or o2 == 0:
                return False
            if o1 == o2:
                continue
            o1 = _orient(cx, cy, dx, dy, ax, ay)
            o2 = _orient(cx, cy, dx, dy, bx, by)
            if o1 == 0 or o2 == 0 or o1 != o2:
                return False
    return True
