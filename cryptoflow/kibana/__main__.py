"""``python -m cryptoflow.kibana``: write ``dashboards/kibana/cryptoflow.ndjson`` from the declarations."""

from cryptoflow.kibana import build_objects, default_objects_dir, to_ndjson

target = default_objects_dir() / "cryptoflow.ndjson"
target.parent.mkdir(parents=True, exist_ok=True)
target.write_text(to_ndjson(build_objects()), encoding="utf-8")
