"""cns.trading"""
