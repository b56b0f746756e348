"""Rollout: sample programs from an actor and judge them (judged.py), plain sampling for generate.py
(plain.py) and post-processing of model outputs (postprocess.py). Critic Sampling is CodeRL's
(:mod:`execrl.algos.coderl.critic_sampling`)."""
