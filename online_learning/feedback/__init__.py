"""The feedback path: realised trade outcomes reach online models and drift detectors.

``drift`` holds the detectors on realised outcomes and the policy that decides whether a
signal starts an adaptation.
"""
