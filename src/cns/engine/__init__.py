"""cns.engine"""
