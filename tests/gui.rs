//! The whole app under egui_kittest, rendered with wgpu (lavapipe on machines without a GPU).
//!
//! Snapshots live in `tests/snapshots/`; after an intended visual change, regenerate them with
//! `UPDATE_SNAPSHOTS=1 cargo test --test gui` and look at the new PNGs before committing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Event, Key, MouseWheelUnit, Pos2, Vec2};
use egui_kittest::kittest::Queryable;
use egui_kittest::{Harness, SnapshotOptions};
use radlens::app::RadlensApp;
use radlens::app::view::pixel_centre;
use radlens::imaging::Window;

const SIZE: [f32; 2] = [1100.0, 700.0];
/// Snapshots are taken smaller to keep the committed PNGs small.
const SNAPSHOT_SIZE: [f32; 2] = [960.0, 540.0];
const SNAPSHOT_PIXELS_PER_POINT: f32 = 0.6;

/// Builds the app on `paths` (the demo when empty) and waits until the series is shown.
fn app(paths: Vec<PathBuf>) -> Harness<'static, RadlensApp> {
    app_sized(paths, SIZE)
}

fn app_sized(paths: Vec<PathBuf>, size: [f32; 2]) -> Harness<'static, RadlensApp> {
    // Snapshots render at a lower resolution: the committed PNGs stay small.
    let pixels_per_point = if size == SNAPSHOT_SIZE {
        SNAPSHOT_PIXELS_PER_POINT
    } else {
        1.0
    };
    let mut harness = Harness::builder()
        .with_size(size)
        .with_pixels_per_point(pixels_per_point)
        .wgpu()
        .build_eframe(move |cc| RadlensApp::new(cc, paths));
    let deadline = Instant::now() + Duration::from_mins(1);
    while harness.state().study.is_none() || !harness.state().is_idle() {
        assert!(
            Instant::now() < deadline,
            "study did not load: {:?}",
            harness.state().error
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.run();
    harness
}

fn viewport_centre(harness: &Harness<'_, RadlensApp>) -> Pos2 {
    harness
        .state()
        .study
        .as_ref()
        .unwrap()
        .image_rect
        .unwrap()
        .center()
}

fn slice(harness: &Harness<'_, RadlensApp>) -> usize {
    harness.state().study.as_ref().unwrap().view.slice
}

fn window(harness: &Harness<'_, RadlensApp>) -> Window {
    harness.state().study.as_ref().unwrap().view.window
}

#[test]
fn demo_opens_and_renders_image_content() {
    let mut harness = app(Vec::new());
    let study = harness.state().study.as_ref().unwrap();
    assert_eq!(study.volume.modality, "CT");
    let rect = study.image_rect.unwrap();
    let image = harness.render().unwrap();
    let mut greys = std::collections::HashSet::new();
    for y in (rect.min.y as u32 + 10..rect.max.y as u32 - 10).step_by(3) {
        for x in (rect.min.x as u32 + 10..rect.max.x as u32 - 10).step_by(3) {
            greys.insert(image.get_pixel(x, y).0);
        }
    }
    assert!(
        greys.len() > 50,
        "viewport looks blank: {} distinct colours",
        greys.len()
    );
}

#[test]
fn wheel_changes_the_slice() {
    let mut harness = app(vec![common::data("dicom/series/mr_brain_t1_sag_35sl")]);
    let before = slice(&harness);
    harness.hover_at(viewport_centre(&harness));
    harness.run();
    harness.event(Event::MouseWheel {
        unit: MouseWheelUnit::Line,
        delta: Vec2::new(0.0, -1.0),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Unknown,
        modifiers: egui::Modifiers::NONE,
    });
    harness.run();
    assert_eq!(slice(&harness), before + 1);
    harness.key_press(Key::ArrowUp);
    harness.key_press(Key::ArrowUp);
    harness.run();
    assert_eq!(slice(&harness), before - 1);
    harness.key_press(Key::End);
    harness.run();
    assert_eq!(slice(&harness), 34);
}

#[test]
fn left_drag_changes_window_level() {
    let mut harness = app(vec![common::data("dicom/series/mr_prostate_adc_20sl")]);
    let before = window(&harness);
    let start = viewport_centre(&harness);
    harness.hover_at(start);
    harness.run();
    harness.drag_at(start);
    harness.run();
    for step in 1..=5 {
        harness.hover_at(start + Vec2::new(10.0 * step as f32, 6.0 * step as f32));
        harness.run();
    }
    harness.drop_at(start + Vec2::new(50.0, 30.0));
    harness.run();
    let after = window(&harness);
    assert!(after.width > before.width, "{before:?} → {after:?}");
    assert!(after.center > before.center, "{before:?} → {after:?}");
}

#[test]
fn key_1_applies_the_lung_preset_and_0_restores() {
    let mut harness = app(Vec::new());
    let default = window(&harness);
    harness.key_press(Key::Num1);
    harness.run();
    assert_eq!(
        window(&harness),
        Window {
            center: -600.0,
            width: 1500.0
        }
    );
    harness.key_press(Key::Num0);
    harness.run();
    assert_eq!(window(&harness), default);
}

#[test]
fn hover_reports_the_hounsfield_value_of_the_voxel() {
    let file = common::data("dicom/single/ct_wg04_CT1_UNC.dcm");
    let reference = common::load(&file);
    let mut harness = app(vec![file]);
    let (col, row) = (256, 300);
    let expected = reference.value(0, row, col).unwrap();
    let rect = harness.state().study.as_ref().unwrap().image_rect.unwrap();
    harness.hover_at(pixel_centre(col, row, rect, 512, 512));
    harness.run();
    let hover = harness
        .state()
        .study
        .as_ref()
        .unwrap()
        .hover
        .clone()
        .unwrap();
    assert_eq!((hover.col, hover.row), (col, row));
    let text = format!("value {expected:.0} HU");
    harness.get_by_label_contains(&text);
}

/// Pixels of the ROI outline colour inside the image.
fn outline_pixels(harness: &mut Harness<'_, RadlensApp>) -> usize {
    let rect = harness.state().study.as_ref().unwrap().image_rect.unwrap();
    let image = harness.render().unwrap();
    let [r, g, b] = radlens::imaging::OUTLINE_RGB;
    image
        .enumerate_pixels()
        .filter(|(x, y, p)| rect.contains(Pos2::new(*x as f32, *y as f32)) && p.0[..3] == [r, g, b])
        .count()
}

#[test]
fn every_series_gets_a_thumbnail() {
    let mut harness = app(vec![common::data("dicom/series/ct_3slice_with_seg")]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while harness.state().thumbnail_count() < 3 {
        assert!(
            Instant::now() < deadline,
            "{} thumbnails",
            harness.state().thumbnail_count()
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(harness.state().scan.as_ref().unwrap().series.len(), 3);
}

#[test]
fn colour_images_render_in_colour() {
    let mut harness = app(vec![common::data(
        "dicom/single/us_pdd_OBXXXX1A_rle_palette.dcm",
    )]);
    let rect = harness.state().study.as_ref().unwrap().image_rect.unwrap();
    let image = harness.render().unwrap();
    let coloured = image
        .enumerate_pixels()
        .filter(|(x, y, p)| {
            rect.contains(Pos2::new(*x as f32, *y as f32))
                && (p.0[0].abs_diff(p.0[1]) > 30 || p.0[1].abs_diff(p.0[2]) > 30)
        })
        .count();
    assert!(coloured > 100, "{coloured} coloured pixels");
}

#[test]
fn segmentation_outline_is_drawn_and_toggles_with_m() {
    let mut harness = app(vec![common::data("dicom/series/ct_3slice_with_seg")]);
    assert_eq!(
        harness.state().study.as_ref().unwrap().volume.modality,
        "CT"
    );
    let shown = outline_pixels(&mut harness);
    assert!(
        shown > 200,
        "liver outline expected, {shown} outline pixels"
    );
    harness.key_press(Key::M);
    harness.run();
    assert_eq!(outline_pixels(&mut harness), 0);
}

#[test]
fn main_view_snapshot() {
    let mut harness = app_sized(Vec::new(), SNAPSHOT_SIZE);
    harness.snapshot_options(
        "main_view",
        &SnapshotOptions::new().threshold(2.0).max_failed_pixels(200),
    );
}

#[test]
fn tag_browser_filters_and_snapshot() {
    let mut harness = app_sized(Vec::new(), SNAPSHOT_SIZE);
    harness
        .get_by_role(egui::accesskit::Role::TextInput)
        .click();
    harness.run();
    harness
        .get_by_role(egui::accesskit::Role::TextInput)
        .type_text("0028");
    harness.run();
    harness.get_by_label_contains("(0028,0030)");
    harness.snapshot_options(
        "tag_browser",
        &SnapshotOptions::new().threshold(2.0).max_failed_pixels(200),
    );
}

#[test]
fn unreadable_path_shows_a_dismissible_error_naming_it() {
    let mut harness = Harness::builder()
        .with_size(SIZE)
        .wgpu()
        .build_eframe(|cc| RadlensApp::new(cc, vec![PathBuf::from("/no/such/study")]));
    let deadline = Instant::now() + Duration::from_secs(20);
    while harness.state().error.is_none() {
        assert!(Instant::now() < deadline);
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.run();
    harness.get_by_label_contains("/no/such/study");
    harness.get_by_label("Dismiss").click();
    harness.run();
    assert!(harness.state().error.is_none());
}

#[test]
fn model_predicts_the_slice_on_screen_and_follows_scrolling() {
    let dir = tempfile::tempdir().unwrap();
    let model = common::traced_model(dir.path(), 2);
    std::fs::write(dir.path().join("tiny.toml"), common::MANIFEST).unwrap();
    let mut harness = app(vec![common::data("dicom/series/mr_prostate_adc_20sl")]);
    let ctx = harness.ctx.clone();
    harness.state_mut().open_model(model, &ctx);
    let prediction_for = |harness: &mut Harness<'_, RadlensApp>, slice: usize| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            harness.step();
            let state = harness.state();
            if let Some((s, Ok(p))) = state.model.as_ref().and_then(|m| m.prediction.as_ref())
                && *s == slice
            {
                return p.probabilities.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no prediction for slice {slice}: {:?}",
                state.error
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let first = slice(&harness);
    let p = prediction_for(&mut harness, first);
    assert_eq!(p.len(), 2);
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    harness.key_press(Key::ArrowDown);
    harness.run();
    prediction_for(&mut harness, first + 1);
    harness.run();
    harness.get_by_label_contains("tiny test net");
}

/// A file dropped on the window, as the platform layer hands it to egui.
#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

#[test]
fn dropping_a_folder_opens_it() {
    let mut harness = app(Vec::new());
    let folder = common::data("dicom/series/mr_brain_t1_sag_35sl");
    harness
        .input_mut()
        .dropped_files
        .push(std::sync::Arc::new(Dropped(folder)));
    harness.step();
    let deadline = Instant::now() + Duration::from_mins(1);
    while harness.state().study.as_ref().unwrap().volume.modality != "MR"
        || !harness.state().is_idle()
    {
        assert!(
            Instant::now() < deadline,
            "dropped folder did not open: {:?}",
            harness.state().error
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(harness.state().study.as_ref().unwrap().volume.shape[0], 35);
}

#[test]
fn clicking_a_series_in_the_list_loads_it() {
    let mut harness = app(vec![common::data("dicom/series/ct_3slice_with_seg")]);
    assert_eq!(
        harness.state().study.as_ref().unwrap().volume.modality,
        "CT"
    );
    harness
        .get_by_label_contains("SEG Liver Segmentation")
        .click();
    harness.run();
    let deadline = Instant::now() + Duration::from_mins(1);
    while harness.state().study.as_ref().unwrap().volume.modality != "SEG"
        || !harness.state().is_idle()
    {
        assert!(
            Instant::now() < deadline,
            "series did not load: {:?}",
            harness.state().error
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        harness.state().study.as_ref().unwrap().volume.shape,
        [3, 512, 512]
    );
}

/// Steps the app until `done` holds (or fails after `secs`).
fn wait_for(
    harness: &mut Harness<'_, RadlensApp>,
    secs: u64,
    what: &str,
    done: impl Fn(&RadlensApp) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done(harness.state()) {
        assert!(
            Instant::now() < deadline,
            "{what}: {:?}",
            harness.state().error
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn heat_on_screen(state: &RadlensApp) -> Option<Arc<radlens::explain::Heatmap>> {
    let study = state.study.as_ref()?;
    state
        .model
        .as_ref()?
        .heatmap_for(&study.volume, study.view.slice)
        .cloned()
}

fn coloured_pixels(harness: &mut Harness<'_, RadlensApp>) -> usize {
    let rect = harness.state().study.as_ref().unwrap().image_rect.unwrap();
    let image = harness.render().unwrap();
    image
        .enumerate_pixels()
        .filter(|(x, y, p)| {
            rect.contains(Pos2::new(*x as f32, *y as f32))
                && (p.0[0].abs_diff(p.0[1]) > 40 || p.0[1].abs_diff(p.0[2]) > 40)
        })
        .count()
}

#[test]
fn demo_model_explains_the_slice_on_screen_follows_scrolling_and_cancels() {
    let mut harness = app(Vec::new());
    wait_for(&mut harness, 60, "demo model loads", |s| s.model.is_some());
    harness.get_by_label_contains("lesion present vs absent");
    assert_eq!(
        coloured_pixels(&mut harness),
        0,
        "no overlay before explaining"
    );

    // Explain (Grad-CAM, the default) with the button: a heatmap on the slice grid, drawn.
    harness.get_by_label("Explain").click();
    harness.run();
    wait_for(&mut harness, 60, "Grad-CAM heatmap", |s| {
        heat_on_screen(s).is_some()
    });
    let heatmap = heat_on_screen(harness.state()).unwrap();
    assert_eq!(heatmap.provenance.method, radlens::explain::Method::GradCam);
    assert_eq!((heatmap.rows, heatmap.cols), (512, 512));
    harness.run();
    assert!(coloured_pixels(&mut harness) > 1000, "overlay not drawn");

    // Follow slice: scrolling explains the new slice.
    harness
        .state_mut()
        .model
        .as_mut()
        .unwrap()
        .explanation
        .follow = true;
    let first = slice(&harness);
    harness.key_press(Key::ArrowDown);
    harness.run();
    assert_ne!(slice(&harness), first);
    wait_for(&mut harness, 60, "heatmap of the next slice", |s| {
        heat_on_screen(s).is_some()
    });

    // A long method, cancelled with Esc: nothing runs any more and its map never arrives.
    let session = harness.state_mut().model.as_mut().unwrap();
    session.explanation.follow = false;
    session.explanation.method = radlens::explain::Method::KernelShap;
    harness.key_press(Key::ArrowUp);
    harness.run();
    harness.key_press(Key::E);
    harness.run();
    assert!(
        harness
            .state()
            .model
            .as_ref()
            .unwrap()
            .explanation
            .running
            .is_some()
    );
    harness.key_press(Key::Escape);
    harness.run();
    assert!(
        harness
            .state()
            .model
            .as_ref()
            .unwrap()
            .explanation
            .running
            .is_none()
    );
    for _ in 0..50 {
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        heat_on_screen(harness.state())
            .is_none_or(|h| h.provenance.method != radlens::explain::Method::KernelShap),
        "a cancelled explanation was shown"
    );
}
