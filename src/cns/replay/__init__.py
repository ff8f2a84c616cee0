"""cns.replay"""
