"""cns.bench"""
