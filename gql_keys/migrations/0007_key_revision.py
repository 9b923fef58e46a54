from tortoise import fields, migrations
from tortoise.migrations import operations as ops

# A key's revision counts its owner's changes; a change or roll challenge records the
# revision it was opened on and confirms only while the key is still at it.


class Migration(migrations.Migration):
    dependencies = [("models", "0006_server_heartbeats")]

    initial = False

    operations = [
        ops.AddField(
            model_name="ApiKey",
            name="revision",
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name="KeyChallenge",
            name="key_revision",
            field=fields.IntField(null=True),
        ),
    ]
