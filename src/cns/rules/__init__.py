"""cns.rules"""
