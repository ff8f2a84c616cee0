"""cns.venue"""
