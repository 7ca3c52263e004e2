"""Transactional event processing.

    Kafka topic `social-media-posts`          Restate subscription           userFeed/<userId>/processPost
    userid1:{post} userid2:{post} ... ──────► record key = object key ────► createPost (ctx.run)
                                                                            ├─ getPostStatus (ctx.run) ◄─┐
                                                                            │  PENDING: durable sleep 5 s┘
                                                                            └─ updateUserFeed (ctx.run)

Each user's posts are processed one after the other, in the order of the topic; a slow post of one user
does not hold up the other users (no head-of-line blocking across keys).
"""

import restate

from eventtransactions.user_feed import user_feed

app = restate.app([user_feed])
