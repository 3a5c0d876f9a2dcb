"""The test harness run inside the sandbox (its text is read by tools.code_tests, never imported).

tools.code_tests.build_harness puts six assignments in front of this file: _SOLUTION (the code
under test), _SETUP (the tests' imports), _CASES ([name, kind, source] each), _LIMIT (seconds per
case), _MODULE ("solution", or "__main__" when there are no tests) and _MARKER. The code is loaded
as that module; each case runs with its own SIGALRM time limit; the last stdout line is the marker
and a JSON report, written to the real stdout even if the code replaced sys.stdout.
"""
# ruff: noqa: F821  (the names above are defined by the header)
import doctest as _doctest, io as _io, json as _json, signal as _signal, sys as _sys, traceback as _tb
_ns = {"__name__": _MODULE, "__builtins__": __builtins__}
_report = {"results": [], "load_error": ""}

class _CaseTimeout(Exception):
    pass

def _alarm(*_):
    raise _CaseTimeout(f"took longer than {_LIMIT} s")

def _source(filename, text):
    import linecache
    linecache.cache[filename] = (len(text), None, [l + "\n" for l in text.splitlines()], filename)
    return filename

def _error(exc):
    frames = [f for f in _tb.extract_tb(exc.__traceback__)
              if f.filename == "solution.py" or f.filename.startswith("<test")]
    where = "".join(_tb.format_list(frames[-3:]))
    return (where + "".join(_tb.format_exception_only(type(exc), exc))).strip()

def _explain(exc):
    """For a failed `assert f(x) == y` say what f(x) actually gave."""
    import ast, linecache
    tb, frame, lineno = exc.__traceback__, None, 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith("<test"):
            frame, lineno = tb.tb_frame, tb.tb_lineno
        tb = tb.tb_next
    if frame is None or exc.args:
        return _error(exc)
    line = linecache.getline(frame.f_code.co_filename, lineno).strip()
    try:
        node = ast.parse(line).body[0]
        if not (isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare)):
            return _error(exc)
        env = dict(frame.f_globals)
        env.update(frame.f_locals)
        got = eval(compile(ast.Expression(node.test.left), "<test>", "eval"), env)
    except BaseException as inner:
        return _error(inner)
    return f"{line}  # but {ast.unparse(node.test.left)} returned {got!r}"

def _run(kind, source, name, where):
    if kind == "assert":
        try:
            exec(compile(source, where, "exec"), _ns)
        except AssertionError as exc:
            return _explain(exc)
        return ""
    if kind == "function":
        exec(compile(source, where, "exec"), _ns)
        try:
            _ns[name]()
        except AssertionError as exc:
            return _explain(exc)
        return ""
    if kind == "doctest":
        test = _doctest.DocTestParser().get_doctest(source, dict(_ns), name, "<test>", 0)
        out = _io.StringIO()
        runner = _doctest.DocTestRunner(optionflags=_doctest.ELLIPSIS | _doctest.NORMALIZE_WHITESPACE)
        runner.run(test, out=out.write, clear_globs=True)
        if runner.failures:
            text = out.getvalue()
            keep = [l for l in text.splitlines() if l.strip() and not l.startswith("*****") and "line " not in l]
            return "\n".join(keep[-8:])
        return ""
    if kind == "unittest":
        import unittest
        exec(compile(source, where, "exec"), _ns)
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(_ns[name])
        result = unittest.TestResult()
        suite.run(result)
        problems = result.failures + result.errors
        return "\n".join(f"{t.id().split('.')[-1]}: {msg.strip().splitlines()[-1]}" for t, msg in problems)
    return f"unknown test kind {kind}"

try:
    exec(compile(_SOLUTION, _source("solution.py", _SOLUTION), "exec"), _ns)
except BaseException as exc:
    _report["load_error"] = _error(exc)
if not _report["load_error"]:
    if _SETUP:
        for _line in _SETUP.splitlines():
            try:
                exec(compile(_line, "<test>", "exec"), _ns)
            except ImportError:
                pass
    _signal.signal(_signal.SIGALRM, _alarm)
    _timed_out = False
    for _i, (_name, _kind, _code) in enumerate(_CASES):
        if _timed_out:
            _report["results"].append([_name, False, "not run: an earlier test timed out"])
            continue
        try:
            _signal.setitimer(_signal.ITIMER_REAL, _LIMIT)
            _problem = _run(_kind, _code, _name, _source(f"<test {_i + 1}>", _code))
        except BaseException as exc:
            _problem = _error(exc) or type(exc).__name__
        finally:
            _signal.setitimer(_signal.ITIMER_REAL, 0)
        _timed_out = "_CaseTimeout" in _problem
        _report["results"].append([_name, not _problem, _problem[-1500:]])
_sys.stdout.flush()
_sys.__stdout__.write("\n" + _MARKER + _json.dumps(_report) + "\n")
_sys.__stdout__.flush()
