"""Sampling programs from an actor: plain sampling, Critic Sampling (refine / repair), post-processing."""
