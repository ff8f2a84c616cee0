"""cns.news"""
