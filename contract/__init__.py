"""The one record contract every step imports (and no step owns): feature names and shapes, split names,
slice features, the raw schema and TFXIO, the transformed feature, the serving signature, the wire
encoder and the stable shard writer. Components never import each other's modules.

    python -c "from contract.records import raw_schema; print(raw_schema())"
"""
