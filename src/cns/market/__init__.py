"""cns.market"""
