"""cns.runtime"""
