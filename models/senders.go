package models

import (
	"context"
	"time"

	"gorm.io/gorm/clause"
)

// platformSender is one instance of Sluice sending to a platform now: owner is the
// instance's id (the one it claims runs with). Instances split a platform's rate limit
// by counting these rows. They are not workspace data: a platform id is unique across
// workspaces, and nothing here is shown to anyone.
type platformSender struct {
	PlatformID string `gorm:"primaryKey"`
	Owner      string `gorm:"primaryKey"`
	SeenAt     time.Time
}

func (platformSender) TableName() string { return "platform_senders" }

// BeatPlatformSender records that owner is sending to the platform now and answers how
// many instances are, itself included: those seen within fresh. Older rows belong to
// instances that stopped without saying so, and are not counted.
func (s *Store) BeatPlatformSender(ctx context.Context, platformID, owner string, fresh time.Duration) (int, error) {
	now := s.now()
	row := platformSender{PlatformID: platformID, Owner: owner, SeenAt: now}
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "platform_id"}, {Name: "owner"}},
		DoUpdates: clause.AssignmentColumns([]string{"seen_at"}),
	}).Create(&row).Error
	if err != nil {
		return 0, translate(err)
	}
	var n int64
	// The primary key's prefix: a few rows, one per instance.
	err = s.db.WithContext(ctx).Model(&platformSender{}).
		Where("platform_id = ? AND seen_at >= ?", platformID, now.Add(-fresh)).Count(&n).Error
	if err != nil {
		return 0, translate(err)
	}
	return max(int(n), 1), nil
}

// RemovePlatformSender records that owner no longer sends to the platform.
func (s *Store) RemovePlatformSender(ctx context.Context, platformID, owner string) error {
	return translate(s.db.WithContext(ctx).Where("platform_id = ? AND owner = ?", platformID, owner).
		Delete(&platformSender{}).Error)
}

// PrunePlatformSenders deletes the rows not seen within fresh, left by instances that
// stopped without removing them, and answers how many it deleted.
func (s *Store) PrunePlatformSenders(ctx context.Context, fresh time.Duration) (int64, error) {
	res := s.db.WithContext(ctx).Where("seen_at < ?", s.now().Add(-fresh)).Delete(&platformSender{})
	return res.RowsAffected, translate(res.Error)
}
