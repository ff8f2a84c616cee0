"""cns.otp"""
