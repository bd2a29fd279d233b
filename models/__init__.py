"""Peewee models: one BaseModel bound to a deferred database (see services/database.py).

Other issues add their models here. Timestamps are UTC epoch seconds in DoubleFields, the same on
SQLite and PostgreSQL (a FloatField would be a 4-byte real there: 128 s steps at today's epoch).
"""

from __future__ import annotations

import peewee

database = peewee.DatabaseProxy()


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False


class Setting(BaseModel):
    key = peewee.CharField(primary_key=True, max_length=100)
    value = peewee.TextField()
    updated_at = peewee.DoubleField()


class Event(BaseModel):
    id = peewee.BigAutoField()
    type = peewee.CharField(max_length=64)
    data = peewee.TextField()
    created_at = peewee.DoubleField(index=True)


class Lease(BaseModel):
    name = peewee.CharField(primary_key=True, max_length=64)
    holder = peewee.CharField(max_length=200)
    expires_at = peewee.DoubleField()


ALL_MODELS: tuple[type[BaseModel], ...] = (Setting, Event, Lease)
