"""A Saxon-HE (saxonche) process that runs compiled schematron XSLT for its parent.

Run as ``python -m billing.einvoice.saxon_worker``: one JSON request per line on stdin
(``{"xslt": path, "xml": text}``), one JSON answer per line on stdout (``{"svrl": text}`` or
``{"error": text}``). It keeps each stylesheet compiled, so a rule file is compiled once per worker.
Saxon runs here and not in the web or Celery process: SaxonC has crashed inside some host processes, and a
crash here costs one restart, not the caller. Imports nothing of Django or the project.
"""

import json
import sys


def main() -> None:
    from saxonche import PySaxonProcessor

    processor = PySaxonProcessor(license=False)
    xslt = processor.new_xslt30_processor()
    compiled = {}
    out = sys.stdout
    for raw in sys.stdin:
        try:
            request = json.loads(raw)
            path = request["xslt"]
            if path not in compiled:
                compiled[path] = xslt.compile_stylesheet(stylesheet_file=path)
            node = processor.parse_xml(xml_text=request["xml"])
            answer = {"svrl": compiled[path].transform_to_string(xdm_node=node)}
        except Exception as exc:  # reported to the parent, which fails the validation with it
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
