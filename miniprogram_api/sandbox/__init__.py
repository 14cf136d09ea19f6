"""The providers' side of every protocol we speak (WeChat login now; WeChat Pay, Alipay and
WeChat messages as they arrive), for the local run and tests only.

It imports nothing of ours but settings and must behave as the real platform does, not as
our client wishes: its answers follow the providers' public documentation.
"""
