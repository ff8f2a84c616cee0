"""cns.telemetry"""
