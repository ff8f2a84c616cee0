"""cns.signals"""
